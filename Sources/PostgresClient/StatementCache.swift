import CLibPQ

/// The named server-side prepared statements of one session: a statement with parameters is
/// parsed and planned by PostgreSQL once per session instead of at every execution (the
/// participant's barrier SQL runs for every branch). Keyed by the SQL and its parameters' types,
/// because a statement is prepared for the types of its first use. Bounded: past `capacity`,
/// new statements run unnamed as before, so SQL built afresh for every call cannot grow it.
/// Confined to the session's thread, like the session.
struct StatementCache {
    struct Key: Hashable {
        let sql: String
        let types: [Oid]
    }

    /// 0 turns caching off: behind a pooler in transaction mode (PgBouncer), a named statement
    /// prepared on one server connection is missing on the next.
    let capacity: Int
    private var names: [Key: String] = [:]
    private var nextNumber = 0

    init(capacity: Int) {
        self.capacity = max(0, capacity)
    }

    enum Plan {
        /// Run unnamed, parsed at every execution.
        case unnamed
        /// Prepared on this session already under this name.
        case prepared(String)
        /// Prepare under this name first; `remember` it once the server accepted it.
        case prepare(String)
    }

    mutating func plan(_ key: Key) -> Plan {
        if let name = names[key] { return .prepared(name) }
        // Statements without parameters are utility commands or carry their values inline
        // (`PREPARE TRANSACTION '<gid>'`): each is new, and cheap to parse.
        guard !key.types.isEmpty, names.count < capacity else { return .unnamed }
        nextNumber += 1
        return .prepare("settle_\(nextNumber)")
    }

    mutating func remember(_ key: Key, as name: String) {
        names[key] = name
    }

    /// After a statement ran: SQL that drops every named statement behind the cache (`DEALLOCATE
    /// ALL`, `DISCARD ALL`, in a service's own handler too) empties it, and a named statement the server
    /// no longer has, or whose cached plan no longer fits its tables, is prepared afresh next time
    /// instead of failing on this session for good. Names are never reused, so a statement still
    /// on the server under an old name is never confused with a new one.
    mutating func follow(_ key: Key, _ plan: Plan, commandTag: String?, error: PostgresError?) {
        // Exactly these drop every named statement; `DEALLOCATE name` drops one, which its next
        // use finds (26000) without forgetting the others, still on the server.
        if commandTag == "DEALLOCATE ALL" || commandTag == "DISCARD ALL" {
            names.removeAll()
        }
        guard case .prepared = plan, let error else { return }
        // 0A000 from a named statement is "cached plan must not change result type" (the
        // message may be localized, so the code alone decides).
        if error.sqlState == "26000" || error.sqlState == "0A000" {
            names[key] = nil
        }
    }
}
