/// A result column: its name and PostgreSQL type OID.
public struct PostgresColumn: Sendable, Hashable {
    public let name: String
    public let typeOID: UInt32
}

/// The complete result of one statement, copied out of libpq so that no C memory outlives the call.
///
/// Cells are stored in one flat buffer, in PostgreSQL's text format (bytea as `\x` hex), so a
/// large result costs two allocations rather than one per cell.
public struct PostgresRows: Sendable, RandomAccessCollection {
    public let columns: [PostgresColumn]
    /// The command tag, e.g. `INSERT 0 1`, `PREPARE TRANSACTION`.
    public let commandTag: String
    /// Rows inserted, updated, deleted, selected…, as PostgreSQL reports them; 0 where it reports none.
    public let affectedRows: Int
    let storage: [UInt8]
    /// Per cell: start offset into `storage`, or -1 for NULL. Row-major.
    let cellStarts: [Int]
    let cellLengths: [Int]
    let columnIndexByName: [String: Int]

    public var startIndex: Int { 0 }
    public var endIndex: Int { columns.isEmpty ? 0 : cellStarts.count / columns.count }

    public subscript(position: Int) -> PostgresRow {
        precondition(position >= 0 && position < endIndex, "row \(position) out of range 0..<\(endIndex)")
        return PostgresRow(rows: self, rowIndex: position)
    }
}

/// One row of a `PostgresRows`.
public struct PostgresRow: Sendable {
    let rows: PostgresRows
    let rowIndex: Int

    /// Decodes the cell at `column`; `T` may be an Optional to accept NULL.
    public func decode<T: PostgresDecodable>(_ type: T.Type = T.self, column: Int) throws(PostgresError) -> T {
        guard column >= 0, column < rows.columns.count else {
            throw PostgresError(
                code: .decoding,
                message: "column index \(column) out of range: the result has \(rows.columns.count) columns"
            )
        }
        return try T.decode(from: cell(column))
    }

    /// Decodes the cell of the column named `name`; `T` may be an Optional to accept NULL.
    public func decode<T: PostgresDecodable>(_ type: T.Type = T.self, column name: String) throws(PostgresError) -> T {
        guard let column = rows.columnIndexByName[name] else {
            throw PostgresError(
                code: .decoding,
                message: "no column named \"\(name)\"; the result has \(rows.columns.map(\.name))"
            )
        }
        return try T.decode(from: cell(column))
    }

    private func cell(_ column: Int) -> PostgresCell {
        let index = rowIndex * rows.columns.count + column
        let start = rows.cellStarts[index]
        let bytes: ArraySlice<UInt8>? = start < 0 ? nil : rows.storage[start..<start + rows.cellLengths[index]]
        return PostgresCell(bytes: bytes, column: rows.columns[column])
    }
}

/// One cell in text format, with what is needed to explain a failed decode.
public struct PostgresCell: Sendable {
    /// nil for SQL NULL.
    public let bytes: ArraySlice<UInt8>?
    public let column: PostgresColumn
}
