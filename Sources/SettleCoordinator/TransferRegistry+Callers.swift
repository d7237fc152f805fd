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
    /// "<submittedAt>/<id>". Filters run on the registry's own records and only the page's
    /// entries are built, so a page costs one pass over the transfers and a sort of small keys,
    /// not a copy of every transfer (the console lists 100,000 remembered ones).
    func list(
        statuses: Set<TransferStatus>, fromMilliseconds: Int64?, toMilliseconds: Int64?, pageSize: Int, after token: String?,
        submittedBy: String? = nil, matching: (TransferSummary) -> Bool = { _ in true }
    )
        -> (entries: [TransferEntry], nextToken: String?)
    {
        let cursor = token.flatMap(PageCursor.init(token:))
        return state.withLock { state in
            var keys: [PageCursor] = []
            for transfer in state.transfers.values {
                let summary = TransferSummary(transfer)
                guard statuses.isEmpty || statuses.contains(summary.status),
                    submittedBy.map({ transfer.sealed.submittedBy == $0 }) ?? true,
                    fromMilliseconds.map({ transfer.sealed.submittedAtMilliseconds >= $0 }) ?? true,
                    toMilliseconds.map({ transfer.sealed.submittedAtMilliseconds < $0 }) ?? true
                else { continue }
                let key = PageCursor(submittedAt: transfer.sealed.submittedAtMilliseconds, id: transfer.sealed.spec.id)
                guard cursor.map({ key < $0 }) ?? true, matching(summary) else { continue }
                keys.append(key)
            }
            let newest = Self.largest(pageSize + 1, of: keys)
            let page = newest.prefix(pageSize).compactMap { key in state.transfers[key.id].map(TransferEntry.init) }
            return (page, newest.count > pageSize ? page.last.map { PageCursor($0).token } : nil)
        }
    }

    /// The `count` largest keys, largest first, without sorting all of them.
    private static func largest(_ count: Int, of keys: [PageCursor]) -> [PageCursor] {
        guard keys.count > count * 8 else { return Array(keys.sorted(by: >).prefix(count)) }
        var kept: [PageCursor] = []
        kept.reserveCapacity(count + 1)
        for key in keys where kept.count < count || key > kept[kept.count - 1] {
            let index = kept.firstIndex { key > $0 } ?? kept.count
            kept.insert(key, at: index)
            if kept.count > count { kept.removeLast() }
        }
        return kept
    }

    /// What list filters may look at, read straight from the registry's record of a transfer.
    struct TransferSummary {
        let status: TransferStatus
        let spec: TransferSpec
        let finalPath: String?
        let hasRetries: Bool

        init(_ transfer: Transfer) {
            spec = transfer.sealed.spec
            hasRetries = !transfer.live.retries.isEmpty
            let facts = transfer.reportedFinalFacts
            status = facts?.status ?? transfer.live.status
            finalPath = facts?.path
        }
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

struct PageCursor: Comparable {
    let submittedAt: Int64
    let id: String

    init(submittedAt: Int64, id: String) {
        self.submittedAt = submittedAt
        self.id = id
    }

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
