import Foundation

/// What every coordinator record's JSON payload has: the transfer it belongs to.
public enum CoordinatorPayload {
    /// The `transfer` member, without decoding the rest: how the audit tools and the console find
    /// one transfer's records in a log.
    public static func transferID(in payload: [UInt8]) -> String? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(payload)) as? [String: Any] else { return nil }
        return object["transfer"] as? String
    }
}
