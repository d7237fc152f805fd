import CLibPQ

extension PostgresRows {
    /// Copies everything out of `result`; the caller still owns and clears it.
    init(copying result: OpaquePointer) {
        let columnCount = Int(PQnfields(result))
        let rowCount = Int(PQntuples(result))
        var columns = [PostgresColumn]()
        columns.reserveCapacity(columnCount)
        var indexByName = [String: Int]()
        for column in 0..<columnCount {
            let name = String(cString: PQfname(result, Int32(column)))
            columns.append(PostgresColumn(name: name, typeOID: UInt32(PQftype(result, Int32(column)))))
            // The first of several same-named columns wins, as in SQL's own name resolution order.
            if indexByName[name] == nil { indexByName[name] = column }
        }
        var storage = [UInt8]()
        var starts = [Int]()
        var lengths = [Int]()
        starts.reserveCapacity(rowCount * columnCount)
        lengths.reserveCapacity(rowCount * columnCount)
        for row in 0..<Int32(rowCount) {
            for column in 0..<Int32(columnCount) {
                if PQgetisnull(result, row, column) == 1 {
                    starts.append(-1)
                    lengths.append(0)
                    continue
                }
                let length = Int(PQgetlength(result, row, column))
                starts.append(storage.count)
                lengths.append(length)
                PQgetvalue(result, row, column).withMemoryRebound(to: UInt8.self, capacity: length) {
                    storage.append(contentsOf: UnsafeBufferPointer(start: $0, count: length))
                }
            }
        }
        let tag = String(cString: PQcmdStatus(result))
        self.init(
            columns: columns,
            commandTag: tag,
            affectedRows: Int(String(cString: PQcmdTuples(result))) ?? 0,
            storage: storage,
            cellStarts: starts,
            cellLengths: lengths,
            columnIndexByName: indexByName
        )
    }
}
