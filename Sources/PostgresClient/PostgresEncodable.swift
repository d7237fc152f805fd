import Foundation

/// One bound parameter as libpq receives it. Text format unless `isBinary`.
public struct PostgresParameter: Sendable {
    let typeOID: UInt32
    /// For text format: the UTF-8 text without terminator. For binary: the raw bytes.
    let bytes: [UInt8]
    let isBinary: Bool
}

/// A Swift value that can be sent as a `$n` parameter. Values never enter SQL text.
public protocol PostgresEncodable: Sendable {
    func postgresParameter() throws(PostgresError) -> PostgresParameter
}

/// The parameter list of one statement; `nil` elements are SQL NULL.
public struct PostgresParameters: Sendable, ExpressibleByArrayLiteral {
    public var values: [(any PostgresEncodable)?]

    public init(_ values: [(any PostgresEncodable)?]) { self.values = values }
    public init(arrayLiteral elements: (any PostgresEncodable)?...) { self.values = elements }
}

extension PostgresParameter {
    static func text(_ string: String, typeOID: UInt32) throws(PostgresError) -> PostgresParameter {
        let bytes = Array(string.utf8)
        // libpq reads text parameters as C strings; an interior NUL would silently cut the value.
        guard !bytes.contains(0) else {
            throw PostgresError(
                code: .invalidParameter,
                message: "text parameter contains a NUL character, which PostgreSQL text cannot hold"
            )
        }
        return PostgresParameter(typeOID: typeOID, bytes: bytes, isBinary: false)
    }
}

extension String: PostgresEncodable {
    public func postgresParameter() throws(PostgresError) -> PostgresParameter {
        // Unspecified type: the server infers it from context, so a String can feed text, jsonb or a domain.
        try .text(self, typeOID: PostgresTypeOID.unspecified)
    }
}

extension Int64: PostgresEncodable {
    public func postgresParameter() throws(PostgresError) -> PostgresParameter {
        PostgresParameter(typeOID: PostgresTypeOID.int8, bytes: Array(String(self).utf8), isBinary: false)
    }
}

extension Int: PostgresEncodable {
    public func postgresParameter() throws(PostgresError) -> PostgresParameter {
        try Int64(self).postgresParameter()
    }
}

extension Int32: PostgresEncodable {
    public func postgresParameter() throws(PostgresError) -> PostgresParameter {
        PostgresParameter(typeOID: PostgresTypeOID.int4, bytes: Array(String(self).utf8), isBinary: false)
    }
}

extension Bool: PostgresEncodable {
    public func postgresParameter() throws(PostgresError) -> PostgresParameter {
        PostgresParameter(typeOID: PostgresTypeOID.bool, bytes: self ? [UInt8(ascii: "t")] : [UInt8(ascii: "f")], isBinary: false)
    }
}

extension Double: PostgresEncodable {
    public func postgresParameter() throws(PostgresError) -> PostgresParameter {
        let text: String
        if isNaN {
            text = "NaN"
        } else if isInfinite {
            text = self < 0 ? "-Infinity" : "Infinity"
        } else {
            // Swift's description is the shortest text that reads back to the same Double.
            text = description
        }
        return PostgresParameter(typeOID: PostgresTypeOID.float8, bytes: Array(text.utf8), isBinary: false)
    }
}

extension Array: PostgresEncodable where Element == UInt8 {
    public func postgresParameter() throws(PostgresError) -> PostgresParameter {
        // Binary format: bytea travels as raw bytes, zero bytes included, with no escaping.
        PostgresParameter(typeOID: PostgresTypeOID.bytea, bytes: self, isBinary: true)
    }
}

extension Data: PostgresEncodable {
    public func postgresParameter() throws(PostgresError) -> PostgresParameter {
        PostgresParameter(typeOID: PostgresTypeOID.bytea, bytes: Array(self), isBinary: true)
    }
}

extension Date: PostgresEncodable {
    public func postgresParameter() throws(PostgresError) -> PostgresParameter {
        PostgresParameter(
            typeOID: PostgresTypeOID.timestamptz,
            bytes: Array(TimestampText.format(self).utf8),
            isBinary: false
        )
    }
}
