import Foundation

/// A Swift type that a result cell can be decoded into. Each type lists the column types it
/// accepts; anything else is a `.decoding` error naming the column, never a silent conversion.
public protocol PostgresDecodable: Sendable {
    static func decode(from cell: PostgresCell) throws(PostgresError) -> Self
}

extension PostgresCell {
    /// The cell's bytes, after checking that the column has one of `acceptedTypes` and is not NULL.
    func requireBytes(as swiftType: String, acceptedTypes: Set<UInt32>) throws(PostgresError) -> ArraySlice<UInt8> {
        guard acceptedTypes.contains(column.typeOID) else {
            throw PostgresError(
                code: .decoding,
                message: "column \"\(column.name)\" has type OID \(column.typeOID), which cannot be decoded as \(swiftType)"
            )
        }
        guard let bytes else {
            throw PostgresError(
                code: .decoding,
                message: "column \"\(column.name)\" is NULL; decode it as \(swiftType)? to accept NULL"
            )
        }
        return bytes
    }

    func malformed(_ swiftType: String) -> PostgresError {
        PostgresError(
            code: .decoding,
            message: "column \"\(column.name)\" holds text that is not a valid \(swiftType)"
        )
    }
}

extension String: PostgresDecodable {
    static let acceptedTypes: Set<UInt32> = [
        PostgresTypeOID.text, PostgresTypeOID.varchar, PostgresTypeOID.bpchar, PostgresTypeOID.name,
        PostgresTypeOID.char, PostgresTypeOID.unknown, PostgresTypeOID.json, PostgresTypeOID.jsonb,
        PostgresTypeOID.uuid,
    ]

    public static func decode(from cell: PostgresCell) throws(PostgresError) -> String {
        let bytes = try cell.requireBytes(as: "String", acceptedTypes: acceptedTypes)
        return String(decoding: bytes, as: UTF8.self)
    }
}

private func decodeInteger<T: FixedWidthInteger>(
    _ cell: PostgresCell,
    as name: String,
    acceptedTypes: Set<UInt32>
) throws(PostgresError) -> T {
    let bytes = try cell.requireBytes(as: name, acceptedTypes: acceptedTypes)
    guard let value = T(String(decoding: bytes, as: UTF8.self)) else { throw cell.malformed(name) }
    return value
}

extension Int64: PostgresDecodable {
    static let acceptedTypes: Set<UInt32> = [
        PostgresTypeOID.int8, PostgresTypeOID.int4, PostgresTypeOID.int2, PostgresTypeOID.oid, PostgresTypeOID.xid,
    ]

    public static func decode(from cell: PostgresCell) throws(PostgresError) -> Int64 {
        try decodeInteger(cell, as: "Int64", acceptedTypes: acceptedTypes)
    }
}

extension Int: PostgresDecodable {
    public static func decode(from cell: PostgresCell) throws(PostgresError) -> Int {
        try decodeInteger(cell, as: "Int", acceptedTypes: Int64.acceptedTypes)
    }
}

extension Int32: PostgresDecodable {
    static let acceptedTypes: Set<UInt32> = [PostgresTypeOID.int4, PostgresTypeOID.int2]

    public static func decode(from cell: PostgresCell) throws(PostgresError) -> Int32 {
        try decodeInteger(cell, as: "Int32", acceptedTypes: acceptedTypes)
    }
}

extension Bool: PostgresDecodable {
    public static func decode(from cell: PostgresCell) throws(PostgresError) -> Bool {
        let bytes = try cell.requireBytes(as: "Bool", acceptedTypes: [PostgresTypeOID.bool])
        switch bytes.first {
        case UInt8(ascii: "t"): return true
        case UInt8(ascii: "f"): return false
        default: throw cell.malformed("Bool")
        }
    }
}

extension Double: PostgresDecodable {
    public static func decode(from cell: PostgresCell) throws(PostgresError) -> Double {
        let bytes = try cell.requireBytes(as: "Double", acceptedTypes: [PostgresTypeOID.float8, PostgresTypeOID.float4])
        guard let value = Double(String(decoding: bytes, as: UTF8.self)) else { throw cell.malformed("Double") }
        return value
    }
}

extension Array: PostgresDecodable where Element == UInt8 {
    public static func decode(from cell: PostgresCell) throws(PostgresError) -> [UInt8] {
        let bytes = try cell.requireBytes(as: "[UInt8]", acceptedTypes: [PostgresTypeOID.bytea])
        guard let decoded = ByteaHex.decode(bytes) else { throw cell.malformed("bytea") }
        return decoded
    }
}

extension Data: PostgresDecodable {
    public static func decode(from cell: PostgresCell) throws(PostgresError) -> Data {
        Data(try [UInt8].decode(from: cell))
    }
}

extension Date: PostgresDecodable {
    public static func decode(from cell: PostgresCell) throws(PostgresError) -> Date {
        let bytes = try cell.requireBytes(as: "Date", acceptedTypes: [PostgresTypeOID.timestamptz])
        guard let date = TimestampText.parse(bytes) else { throw cell.malformed("timestamptz") }
        return date
    }
}

extension Optional: PostgresDecodable where Wrapped: PostgresDecodable {
    public static func decode(from cell: PostgresCell) throws(PostgresError) -> Wrapped? {
        guard cell.bytes != nil else { return nil }
        return try Wrapped.decode(from: cell)
    }
}

/// bytea's text output with `bytea_output = 'hex'` (the default since 9.0): `\x` then two hex digits a byte.
enum ByteaHex {
    static func decode(_ text: ArraySlice<UInt8>) -> [UInt8]? {
        guard text.count >= 2, text.count % 2 == 0,
            text[text.startIndex] == UInt8(ascii: "\\"), text[text.startIndex + 1] == UInt8(ascii: "x")
        else { return nil }
        var output = [UInt8]()
        output.reserveCapacity((text.count - 2) / 2)
        var index = text.startIndex + 2
        while index < text.endIndex {
            guard let high = nibble(text[index]), let low = nibble(text[index + 1]) else { return nil }
            output.append(high << 4 | low)
            index += 2
        }
        return output
    }

    private static func nibble(_ character: UInt8) -> UInt8? {
        switch character {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return character - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return character - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return character - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
