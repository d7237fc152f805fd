import Foundation

/// The one canonical encoding of receipts, heads and proofs: compact, keys sorted, no escaped
/// slashes. Readers re-encode what they decoded and refuse a file that differs, so whitespace or
/// a different spelling of the same value is a changed file, not an equivalent one.
public enum CanonicalJSON {
    /// Bytes that are not the canonical encoding of the expected value; fit to print.
    public struct Refusal: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    public static func encode(_ value: some Encodable) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(value))
    }

    public static func decode<Value: Codable>(_ type: Value.Type, from bytes: [UInt8], what: String) throws -> Value {
        let value: Value
        do {
            value = try JSONDecoder().decode(type, from: Data(bytes))
        } catch {
            throw Refusal(description: "\(what) is not valid JSON of its format: \(error)")
        }
        guard try encode(value) == bytes else {
            throw Refusal(description: "\(what) is not in canonical form (compact JSON, sorted keys, no trailing newline)")
        }
        return value
    }
}
