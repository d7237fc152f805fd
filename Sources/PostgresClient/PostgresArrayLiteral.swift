/// PostgreSQL's text form of a one-dimensional array (`{"a","b"}`), for sending many values as
/// one parameter (`$1::text[]`, then `unnest`): the statement stays the same whatever the count,
/// so it is prepared once.
public enum PostgresArrayLiteral {
    /// `elements` already in element form (see `quoted`; numbers need no quotes).
    public static func of(_ elements: [String]) -> String {
        "{" + elements.joined(separator: ",") + "}"
    }

    /// A double-quoted element: backslashes and quotes escaped, so any text (commas, braces,
    /// spaces, the word NULL) stays one element and reads back unchanged.
    public static func quoted(_ text: String) -> String {
        var quoted = "\""
        for character in text.unicodeScalars {
            if character == "\\" || character == "\"" { quoted.unicodeScalars.append("\\") }
            quoted.unicodeScalars.append(character)
        }
        return quoted + "\""
    }

    /// `bytes` as a quoted element of a `bytea[]` (hex input form, `\x…`).
    public static func bytea(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var hex = [UInt8](repeating: 0, count: bytes.count * 2)
        for (index, byte) in bytes.enumerated() {
            hex[2 * index] = digits[Int(byte >> 4)]
            hex[2 * index + 1] = digits[Int(byte & 0x0f)]
        }
        return quoted("\\x" + String(decoding: hex, as: UTF8.self))
    }
}
