import Foundation

/// Whether bytes are one JSON object, as the protocol requires of every payload. Checked before
/// anything is logged, so the ACCEPTED record only ever carries what a participant can decode.
enum JSONObjectCheck {
    static func isObject(_ bytes: Data) -> Bool {
        guard String(validating: bytes, as: UTF8.self) != nil else { return false }
        // Foundation's parser bounds its nesting depth, so hostile nesting is an error, not a crash.
        return (try? JSONSerialization.jsonObject(with: bytes, options: [])) is [String: Any]
    }
}
