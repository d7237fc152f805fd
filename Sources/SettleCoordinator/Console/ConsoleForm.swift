import Hummingbird

/// A posted `application/x-www-form-urlencoded` form, read up to a bound: the console takes no
/// other body, and a longer one is refused before it is held in memory.
struct ConsoleForm {
    private let fields: [String: String]

    init(_ request: Request, bytesMax: Int) async throws {
        let body = try await request.body.collect(upTo: bytesMax)
        var fields: [String: String] = [:]
        for pair in String(buffer: body).split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = Self.decoded(parts[0]) else { continue }
            fields[name] = parts.count > 1 ? Self.decoded(parts[1]) ?? "" : ""
        }
        self.fields = fields
    }

    /// The field's value; empty when absent.
    subscript(_ name: String) -> String { fields[name] ?? "" }

    /// Form encoding: `+` is a space, `%XX` a byte; nil for a broken escape or bytes that are not UTF-8.
    static func decoded(_ text: Substring) -> String? {
        var bytes: [UInt8] = []
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            switch byte {
            case UInt8(ascii: "+"):
                bytes.append(UInt8(ascii: " "))
            case UInt8(ascii: "%"):
                guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else { return nil }
                bytes.append(high << 4 | low)
            default:
                bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
