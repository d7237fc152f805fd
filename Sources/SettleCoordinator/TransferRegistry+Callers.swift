import SettleCore

/// What API callers ask of the registry: waiting for an ending, listing, claiming a stuck
/// transfer for an operator's decision.
extension TransferRegistry {
    /// Suspends until the transfer is final or the task is cancelled (the call's deadline).
    func waitUntilFinal(_ id: String) async {
        let waiterID = state.withLock { state -> UInt64 in
            state.nextWaiterID += 1
            return state.nextWaiterID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    guard let transfer = state.transfers[id], !transfer.isReportedFinal, !Task.isCancelled else { return true }
                    state.waiters[id, default: [:]][waiterID] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { $0.waiters[id]?.removeValue(forKey: waiterID) }
            waiter?.resume()
        }
    }

    /// Callers suspended in `waitUntilFinal(id)`.
    func waiterCount(_ id: String) -> Int { state.withLock { $0.waiters[id]?.count ?? 0 } }

    /// Newest first, by submission time, filtered; the page token is the last entry's
    /// "<submittedAt>/<id>".
    func list(
        statuses: Set<TransferStatus>, fromMilliseconds: Int64?, toMilliseconds: Int64?, pageSize: Int, after token: String?,
        submittedBy: String? = nil, matching: (TransferEntry) -> Bool = { _ in true }
    )
        -> (entries: [TransferEntry], nextToken: String?)
    {
        let all = state.withLock { $0.transfers.values.map(TransferEntry.init) }
        let cursor = token.flatMap(PageCursor.init(token:))
        let matching = all.filter { entry in
            (statuses.isEmpty || statuses.contains(entry.status))
                && (submittedBy.map { entry.submittedBy == $0 } ?? true)
                && (fromMilliseconds.map { entry.submittedAtMilliseconds >= $0 } ?? true)
                && (toMilliseconds.map { entry.submittedAtMilliseconds < $0 } ?? true)
                && (cursor.map { PageCursor(entry) < $0 } ?? true)
                && matching(entry)
        }
        .sorted { PageCursor($0) > PageCursor($1) }
        let page = Array(matching.prefix(pageSize))
        let next = matching.count > pageSize ? page.last.map { PageCursor($0).token } : nil
        return (page, next)
    }

    enum ResolutionClaim {
        case claimed(TransferEntry)
        case notFound
        /// Not stuck, or another Resolve got there first; the message names what stands.
        case refused(String)
    }

    /// Compare-and-set for Resolve, Approve and Reject: the first caller claims a stuck transfer;
    /// every other caller is told what the first decided, so exactly one record is sealed for it.
    /// Approving (or rejecting) claims only the very proposal that is sealed; anything else claims
    /// only a transfer without one. The claim ends when the claimant's record is applied.
    func claimResolution(_ id: String, _ proposal: ResolutionProposal, approving: Bool) -> ResolutionClaim {
        state.withLock { state in
            guard var transfer = state.transfers[id] else { return .notFound }
            if let pending = transfer.live.pendingResolution {
                return .refused("transfer \(id) is already being resolved: \(pending)")
            }
            if approving ? transfer.sealed.proposal != proposal : transfer.sealed.proposal != nil {
                let standing = transfer.sealed.proposal.map { "waits for approval of \($0.summary)" } ?? "has no proposal"
                return .refused("transfer \(id) \(standing)")
            }
            let entry = TransferEntry(transfer)
            guard entry.status == .stuck else {
                let decided = entry.resolvedBy.map { " (resolved by \($0))" } ?? ""
                return .refused(
                    "transfer \(id) is \(entry.status.rawValue)\(decided), not stuck; only stuck transfers are resolved by hand"
                )
            }
            transfer.live.pendingResolution = "\(proposal.outcome.rawValue) by \(proposal.operator)"
            state.transfers[id] = transfer
            return .claimed(TransferEntry(transfer))
        }
    }
}

private struct PageCursor: Comparable {
    let submittedAt: Int64
    let id: String

    init(_ entry: TransferEntry) {
        submittedAt = entry.submittedAtMilliseconds
        id = entry.spec.id
    }

    init?(token: String) {
        guard token.utf8.count <= 256, let slash = token.firstIndex(of: "/"), let time = Int64(token[..<slash]) else { return nil }
        submittedAt = time
        id = String(token[token.index(after: slash)...])
    }

    var token: String { "\(submittedAt)/\(id)" }

    static func < (lhs: PageCursor, rhs: PageCursor) -> Bool {
        (lhs.submittedAt, lhs.id) < (rhs.submittedAt, rhs.id)
    }
}
