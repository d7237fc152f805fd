import PostgresClient

/// One participant database as reconciliation reads it: barrier rows under a coordinator's
/// prefix, a page at a time in gid order, and the transactions still prepared there. Every
/// session is read-only.
struct BarrierScan {
    struct Row: Sendable {
        let gid: String
        let op: String
        let decisionLSN: Int64?
        let signature: [UInt8]?
        let digest: [UInt8]?
    }

    let pool: PostgresPool
    let prefix: String
    static let pageSize = 1000

    /// Calls `body` with each gid's rows, gid by gid, never holding more than a page.
    func forEachBranch(_ body: (_ gid: String, _ rows: [Row]) throws -> Void) async throws {
        var after = ""
        var pending: (gid: String, rows: [Row])?
        while true {
            let page = try await readOnly(
                """
                SELECT gid, op, decision_lsn, decision_signature, digest FROM settle_barrier
                WHERE starts_with(gid, $1) AND gid > $2 ORDER BY gid, op LIMIT \(Self.pageSize)
                """,
                [prefix, after]
            )
            for row in page {
                let decoded = Row(
                    gid: try row.decode(column: "gid"), op: try row.decode(column: "op"),
                    decisionLSN: try row.decode(column: "decision_lsn"), signature: try row.decode(column: "decision_signature"),
                    digest: try row.decode(column: "digest")
                )
                if pending?.gid == decoded.gid {
                    pending?.rows.append(decoded)
                } else {
                    if let finished = pending { try body(finished.gid, finished.rows) }
                    pending = (decoded.gid, [decoded])
                }
            }
            guard page.count == Self.pageSize, let last = pending else { break }
            // The last gid of a full page may continue on the next: finish it there.
            after = last.gid
            let rest = try await readOnly(
                "SELECT gid, op, decision_lsn, decision_signature, digest FROM settle_barrier WHERE gid = $1 ORDER BY op", [last.gid]
            )
            pending = (
                last.gid,
                try rest.map { row in
                    Row(
                        gid: last.gid, op: try row.decode(column: "op"), decisionLSN: try row.decode(column: "decision_lsn"),
                        signature: try row.decode(column: "decision_signature"), digest: try row.decode(column: "digest")
                    )
                }
            )
        }
        if let finished = pending { try body(finished.gid, finished.rows) }
    }

    /// Gids under the prefix still prepared in this database (bounded by max_prepared_transactions).
    func prepared() async throws -> Set<String> {
        let rows = try await readOnly(
            "SELECT gid FROM pg_prepared_xacts WHERE database = current_database() AND starts_with(gid, $1)", [prefix]
        )
        return Set(try rows.map { try $0.decode(String.self, column: "gid") })
    }

    private func readOnly(_ sql: String, _ parameters: PostgresParameters) async throws -> PostgresRows {
        try await pool.withConnection { connection in
            try await connection.withTransaction { transaction in
                try await transaction.query("SET TRANSACTION READ ONLY")
                return try await transaction.query(sql, parameters)
            }
        }
    }
}
