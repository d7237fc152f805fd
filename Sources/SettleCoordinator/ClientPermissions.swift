import SettleAuth
import SettleCore

extension ClientRegistry {
    /// The calling client's configuration, or PERMISSION_DENIED-worthy nil (a name the
    /// interceptor set but that is not configured cannot happen; refused all the same).
    func caller() throws -> ClientConfiguration {
        let name = try AuthenticatedCaller.required()
        guard let client = clients[name] else { throw PermissionRefusal("the caller \(name) is not a configured client") }
        return client
    }
}

/// A call refused for a missing permission; the message names it.
struct PermissionRefusal: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension ClientConfiguration {
    /// Nil when every branch's action and compensation is permitted; else the first missing
    /// permission, named as `submit <participant> action|compensation <name>`.
    func refusal(toSubmit spec: TransferSpec) -> String? {
        for (index, branch) in spec.branches.enumerated() {
            let grants = submit.filter { $0.participant == branch.participant }
            if !grants.contains(where: { $0.actions.contains(branch.action) || $0.actions.contains("*") }) {
                return "client \(name) lacks permission: submit \(branch.participant) action \(branch.action) (branch \(index))"
            }
            if !branch.compensation.isEmpty,
                !grants.contains(where: { $0.compensations.contains(branch.compensation) || $0.compensations.contains("*") })
            {
                return "client \(name) lacks permission: submit \(branch.participant) compensation \(branch.compensation) (branch \(index))"
            }
            if !branch.compensationPayload.isEmpty, !grants.contains(where: \.compensationPayloads) {
                return "client \(name) lacks permission: submit \(branch.participant) compensationPayloads (branch \(index))"
            }
        }
        return nil
    }

    func mayRead(_ entry: TransferEntry) -> Bool {
        switch read {
        case .none: false
        case .own: entry.submittedBy == name
        case .all: true
        }
    }
}
