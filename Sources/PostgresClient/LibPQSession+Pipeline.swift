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

        for (statement, parameters) in zip(statements, bound) {
            let sent = parameters.withLibPQArrays { count, types, values, lengths, formats in
                PQsendQueryParams(connection, statement.sql, count, types, values, lengths, formats, 0)
            }
            guard sent == 1 else { throw connectionFailure(sql: statement.sql) }
        }
        guard PQpipelineSync(connection) == 1 else { throw connectionFailure(sql: statements[0].sql) }
        try flushWhileDraining()

        var results = [Result<PostgresRows, PostgresError>]()
        results.reserveCapacity(statements.count)
        for statement in statements {
            // In pipeline mode each statement's results end with a NULL from PQgetResult.
            let result = PQgetResult(connection)
            results.append(Result { () throws(PostgresError) in try rowsOrError(result, sql: statement.sql) })
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
