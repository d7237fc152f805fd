import SettleCore

/// Names of actions, compensations and participants: `[a-z0-9._-]{1,64}`, so that they are safe
/// in metrics labels, logs and gids without escaping.
enum OperationName {
    static func isValid(_ name: String) -> Bool { TransferSpec.isValidName(name) }

    static func validate(_ name: String, kind: String) throws(ParticipantError) {
        guard isValid(name) else {
            throw ParticipantError(.invalidArgument, "\(kind) name \(quoted(name)) must match [a-z0-9._-]{1,64}")
        }
    }

    /// Quotes untrusted text for a message, shortened so an attacker cannot flood logs.
    static func quoted(_ text: String) -> String {
        let shown = text.count > 80 ? String(text.prefix(80)) + "…" : text
        return "'\(shown.replacingOccurrences(of: "\n", with: "\\n"))'"
    }
}
