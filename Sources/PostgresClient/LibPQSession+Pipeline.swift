import CLibPQ
import Glibc

extension LibPQSession {
    /// Pipeline mode: every statement is queued, one sync is sent, then the results are read in
    /// order. Sending runs in non-blocking mode while draining input, so that a long pipeline can
    /// never deadlock with the server blocked on writing results that nobody reads.
    func runPipeline(_ statements: [PostgresStatement]) throws(PostgresError) -> [Result<PostgresRows, PostgresError>] {
        guard !statements.isEmpty else { return [] }
        let bound = try statements.map { statement throws(PostgresError) in try BoundParameters(statement.parameters) }
        guard PQenterPipelineMode(connection) == 1 else {
            throw PostgresError(code: .server, message: "cannot enter pipeline mode: \(lastErrorMessage)")
        }
        defer { PQexitPipelineMode(connection) }
        guard PQsetnonblocking(connection, 1) == 0 else {
            throw PostgresError(code: .server, message: "cannot switch to non-blocking mode: \(lastErrorMessage)")
        }
        defer { PQsetnonblocking(connection, 0) }

        var plans: [(StatementCache.Key, StatementCache.Plan)] = []
        // A statement repeated in one pipeline is prepared once, by its first use: the cache
        // learns the name only once the server's answer is read, after everything is sent.
        var preparedHere: [StatementCache.Key: String] = [:]
        for (statement, parameters) in zip(statements, bound) {
            let key = StatementCache.Key(sql: statement.sql, types: parameters.types)
            let plan = preparedHere[key].map(StatementCache.Plan.prepared) ?? statementCache.plan(key)
            if case .prepare(let name) = plan { preparedHere[key] = name }
            plans.append((key, plan))
            guard send(statement.sql, parameters, plan) else { throw connectionFailure(sql: statement.sql) }
        }
        guard PQpipelineSync(connection) == 1 else { throw connectionFailure(sql: statements[0].sql) }
        try flushWhileDraining()

        var results = [Result<PostgresRows, PostgresError>]()
        results.reserveCapacity(statements.count)
        for (statement, (key, plan)) in zip(statements, plans) {
            // A failed prepare is the statement's failure (the server then skips the execution).
            var prepareFailure: PostgresError?
            if case .prepare(let name) = plan {
                prepareFailure = try readPrepare(of: key, as: name)
            }
            // In pipeline mode each statement's results end with a NULL from PQgetResult.
            let result = PQgetResult(connection)
            results.append(
                Result { () throws(PostgresError) in
                    if let prepareFailure { throw prepareFailure }
                    return try following(key, plan, result, sql: statement.sql)
                }
            )
            PQclear(result)
            if result == nil || isBroken {
                throw PostgresError(code: .connectionLost, message: lastErrorMessage, query: statement.sql)
            }
            while let extra = PQgetResult(connection) { PQclear(extra) }
        }
        guard let sync = PQgetResult(connection) else { throw connectionFailure(sql: statements[0].sql) }
        defer { PQclear(sync) }
        guard PQresultStatus(sync) == PGRES_PIPELINE_SYNC else {
            throw PostgresError(code: .server, message: "pipeline ended without its sync point")
        }
        return results
    }

    /// Queues one statement: unnamed, as the session's named statement, or prepared first.
    private func send(_ sql: String, _ parameters: BoundParameters, _ plan: StatementCache.Plan) -> Bool {
        parameters.withLibPQArrays { count, types, values, lengths, formats in
            switch plan {
            case .unnamed:
                return PQsendQueryParams(connection, sql, count, types, values, lengths, formats, 0) == 1
            case .prepared(let name):
                return PQsendQueryPrepared(connection, name, count, values, lengths, formats, 0) == 1
            case .prepare(let name):
                return PQsendPrepare(connection, name, sql, count, types) == 1
                    && PQsendQueryPrepared(connection, name, count, values, lengths, formats, 0) == 1
            }
        }
    }

    /// Reads a queued prepare's result; remembers the name once the server has it.
    private func readPrepare(of key: StatementCache.Key, as name: String) throws(PostgresError) -> PostgresError? {
        let prepared = PQgetResult(connection)
        defer { PQclear(prepared) }
        guard prepared != nil, !isBroken else { throw connectionFailure(sql: key.sql) }
        while let extra = PQgetResult(connection) { PQclear(extra) }
        do {
            _ = try rowsOrError(prepared, sql: key.sql)
        } catch {
            return error
        }
        statementCache.remember(key, as: name)
        return nil
    }

    private func connectionFailure(sql: String) -> PostgresError {
        PostgresError(code: isBroken ? .connectionLost : .server, message: lastErrorMessage, query: sql)
    }

    private func flushWhileDraining() throws(PostgresError) {
        while true {
            switch PQflush(connection) {
            case 0:
                return
            case 1:
                var descriptor = pollfd(fd: PQsocket(connection), events: Int16(POLLIN | POLLOUT), revents: 0)
                guard poll(&descriptor, 1, -1) >= 0 || errno == EINTR else {
                    throw PostgresError(code: .connectionLost, message: "poll failed: errno \(errno)")
                }
                if descriptor.revents & Int16(POLLIN) != 0, PQconsumeInput(connection) == 0 {
                    throw connectionFailure(sql: "")
                }
            default:
                throw connectionFailure(sql: "")
            }
        }
    }
}
