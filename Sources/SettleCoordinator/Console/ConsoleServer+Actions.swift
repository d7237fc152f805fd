import Hummingbird
import Metrics
import SettleCore

/// The console's state-changing requests: each needs a live session, the session's CSRF token
/// and the operator permission, and goes through `OperatorActions`, which seals it in the log
/// under the operator's name.
enum ConsoleAction: String, CaseIterable, Sendable {
    case resolve, approve, reject, retry
}

extension ConsoleServer {
    func act(_ action: ConsoleAction, _ request: Request) async throws -> Response {
        let form = try await ConsoleForm(request, bytesMax: Self.formBytesMax)
        let viewer: Viewer
        switch self.viewer(request) {
        case .success(let found): viewer = found
        case .failure(.notLoggedIn): return refuse(action, "log in first", nil)
        case .failure(let refusal): return refusal.response(self)
        }
        guard ConsoleSessions.tokensMatch(form["csrf"], viewer.session.csrfToken) else {
            return refuse(action, "the form's CSRF token does not match your session; reload the page and try again", viewer)
        }
        guard viewer.client.operator else {
            return refuse(action, "client \(viewer.client.name) lacks permission: operator", viewer)
        }
        let id = form["id"]
        let back = Response(status: .seeOther, headers: [.location: "/transfer?id=\(ConsoleText.percentEncoded(id))"])
        do {
            let done = try await perform(action, id: id, form: form, by: viewer.client.name)
            sessions.setFlash(viewer.session.id, done)
        } catch let refusal as OperatorActions.Refusal {
            sessions.setFlash(viewer.session.id, "Not done: \(refusal.description)")
        }
        return back
    }

    private func perform(_ action: ConsoleAction, id: String, form: ConsoleForm, by who: String) async throws -> String {
        switch action {
        case .resolve:
            guard let outcome = TransferStatus(rawValue: form["outcome"].lowercased()) else {
                throw OperatorActions.Refusal(kind: .invalid, description: "outcome is COMMITTED, COMPENSATED or ABORTED")
            }
            let entry = try await actions.resolve(id, outcome: outcome, reason: form["reason"], by: who)
            return entry.proposal.map { "Proposed \($0.outcome.rawValue); a second operator must approve it." }
                ?? "Resolved as \(entry.status.rawValue)."
        case .approve:
            let entry = try await actions.approve(id, by: who, seen: try seenProposal(form))
            return "Approved: the transfer is \(entry.status.rawValue)."
        case .reject:
            _ = try await actions.reject(id, reason: form["reason"], by: who, seen: try seenProposal(form))
            return "Proposal rejected."
        case .retry:
            let woken = try await actions.retryNow(id, by: who)
            return woken == 0
                ? "Retrying now: the next attempt starts as soon as the one under way ends."
                : "Retrying now (\(woken) branch\(woken == 1 ? "" : "es") woken)."
        }
    }

    /// The proposal the page showed, which approving or rejecting must still find.
    private func seenProposal(_ form: ConsoleForm) throws -> ResolutionProposal {
        guard let outcome = TransferStatus(rawValue: form["seenOutcome"]) else {
            throw OperatorActions.Refusal(kind: .invalid, description: "the form does not say which proposal you saw; reload the page")
        }
        return ResolutionProposal(outcome: outcome, reason: form["seenReason"], operator: form["seenOperator"])
    }

    private func refuse(_ action: ConsoleAction, _ why: String, _ viewer: Viewer?) -> Response {
        Counter(label: "settle_console_refused_total", dimensions: [("action", action.rawValue)]).increment()
        logger.notice(
            "console action refused", metadata: ["action": "\(action.rawValue)", "why": "\(why)", "client": "\(viewer?.client.name ?? "")"])
        guard let viewer else { return Refusal.forbidden(why).response(self) }
        return render("message", ["heading": "Refused", "text": why], for: viewer, status: .forbidden)
    }
}
