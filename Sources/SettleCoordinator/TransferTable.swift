import Foundation
import SettleCore
import Synchronization

/// Every transfer the coordinator knows: in flight, and the most recent finished ones (for
/// Submit idempotency, Get and List). The only shared mutable state of the coordinator.
final class TransferTable: Sendable {
    private struct State {
        var entries: [String: TransferEntry] = [:]
        var finishedOrder: [String] = []
        var finishedOrderStart = 0
        var inFlight = 0
        /// ACCEPTED bytes of transfers every checkpoint must carry: unfinished and stuck ones.
        var unfinishedRecordBytes = 0
        var waiters: [String: [UInt64: CheckedContinuation<Void, Never>]] = [:]
        var nextWaiterID: UInt64 = 0
    }

    private let state = Mutex(State())
    let inFlightMax: Int
    let rememberedMax: Int
    /// Every checkpoint carries each unfinished transfer whole, so their ACCEPTED records together
    /// must fit one checkpoint record; admission stops before that.
    let unfinishedRecordBytesMax: Int

    init(inFlightMax: Int, rememberedMax: Int, unfinishedRecordBytesMax: Int = Journal.checkpointBytesBudget / 2) {
        self.inFlightMax = inFlightMax
        self.rememberedMax = rememberedMax
        self.unfinishedRecordBytesMax = unfinishedRecordBytesMax
    }

    enum AdmitResult {
        case admitted
        case existing(TransferEntry)
        case conflict(TransferEntry, String)
        case full(String)
    }

    /// Admits a new transfer, or says why not: already known (same body or not), or at capacity.
    /// A finished id this table no longer remembers is admitted again, as a new transfer: its
    /// admission is new, so none of its gids can be mistaken for the forgotten one's.
    func admit(_ entry: TransferEntry) -> AdmitResult {
        state.withLock { state in
            let spec = entry.spec
            if let existing = state.entries[spec.id] {
                if existing.spec == spec { return .existing(existing) }
                return .conflict(existing, Self.difference(existing.spec, spec))
            }
            guard state.inFlight < inFlightMax else { return .full("\(inFlightMax) transfers are in flight; retry later") }
            guard state.unfinishedRecordBytes + entry.acceptedRecordBytes <= unfinishedRecordBytesMax else {
                return .full(
                    "unfinished transfers already hold \(state.unfinishedRecordBytes) of \(unfinishedRecordBytesMax) bytes of "
                        + "accepted records; retry later"
                )
            }
            state.entries[spec.id] = entry
            state.inFlight += 1
            state.unfinishedRecordBytes += entry.acceptedRecordBytes
            return .admitted
        }
    }

    /// Puts back what recovery read from the log.
    func restore(_ entry: TransferEntry) {
        state.withLock { state in
            let previous = state.entries.updateValue(entry, forKey: entry.spec.id)
            if let previous, !previous.status.isFinal || previous.status == .stuck {
                state.unfinishedRecordBytes -= previous.acceptedRecordBytes
            }
            if !entry.status.isFinal || entry.status == .stuck { state.unfinishedRecordBytes += entry.acceptedRecordBytes }
            if entry.status == .stuck {
                // Waits for an operator; never in the finished order, so never forgotten.
            } else if entry.status.isFinal {
                state.finishedOrder.append(entry.spec.id)
            } else if previous == nil {
                state.inFlight += 1
            }
        }
    }

    func update(_ id: String, _ change: (inout TransferEntry) -> Void) {
        state.withLock { state in
            guard var entry = state.entries[id], !entry.status.isFinal else { return }
            change(&entry)
            state.entries[id] = entry
        }
    }

    /// Records the final facts (as sealed), wakes waiters, and forgets the oldest finished
    /// transfers beyond the remembered bound. A stuck transfer is never forgotten: it waits for an
    /// operator, and enters the finished order only when resolved.
    func finish(_ id: String, _ facts: FinalFacts) {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            guard var entry = state.entries[id], !entry.status.isFinal else { return [] }
            entry.apply(facts)
            state.entries[id] = entry
            state.inFlight -= 1
            if facts.status != .stuck {
                state.unfinishedRecordBytes -= entry.acceptedRecordBytes
                Self.remember(id, in: &state, max: rememberedMax)
            }
            return Array(state.waiters.removeValue(forKey: id)?.values ?? [:].values)
        }
        for waiter in waiters { waiter.resume() }
    }

    private static func remember(_ id: String, in state: inout State, max rememberedMax: Int) {
        state.finishedOrder.append(id)
        while state.finishedOrder.count - state.finishedOrderStart > rememberedMax {
            let oldest = state.finishedOrder[state.finishedOrderStart]
            state.finishedOrderStart += 1
            if let entry = state.entries[oldest], entry.status.isFinal, entry.status != .stuck {
                state.entries.removeValue(forKey: oldest)
            }
        }
        if state.finishedOrderStart > 4096 && state.finishedOrderStart * 2 > state.finishedOrder.count {
            state.finishedOrder.removeFirst(state.finishedOrderStart)
            state.finishedOrderStart = 0
        }
    }

    enum ResolutionClaim {
        case claimed(TransferEntry)
        case notFound
        /// Not stuck, or another Resolve got there first; the message names what stands.
        case refused(String)
    }

    /// Compare-and-set for Resolve and Approve: the first caller claims a stuck transfer; every
    /// other caller is told what the first decided, so exactly one MANUAL (or PROPOSED) record is
    /// sealed. Approving claims only the very proposal that is sealed; anything else claims only a
    /// transfer without one.
    func claimResolution(_ id: String, _ proposal: ResolutionProposal, approving: Bool) -> ResolutionClaim {
        state.withLock { state in
            guard var entry = state.entries[id] else { return .notFound }
            if let pending = entry.pendingResolution {
                return .refused("transfer \(id) is already being resolved: \(pending)")
            }
            if approving ? entry.proposal != proposal : entry.proposal != nil {
                let standing = entry.proposal.map { "waits for approval of \($0.summary)" } ?? "has no proposal"
                return .refused("transfer \(id) \(standing)")
            }
            guard entry.status == .stuck else {
                let decided = entry.resolvedBy.map { " (resolved by \($0))" } ?? ""
                return .refused(
                    "transfer \(id) is \(entry.status.rawValue)\(decided), not stuck; only stuck transfers are resolved by hand"
                )
            }
            entry.pendingResolution = "\(proposal.outcome.rawValue) by \(proposal.operator)"
            state.entries[id] = entry
            return .claimed(entry)
        }
    }

    /// The sealed REJECTED record: the claimed transfer stays stuck, with no proposal.
    func withdrawProposal(_ id: String) -> TransferEntry? {
        state.withLock { state in
            guard var entry = state.entries[id], entry.status == .stuck, entry.pendingResolution != nil else { return nil }
            entry.pendingResolution = nil
            entry.proposal = nil
            state.entries[id] = entry
            return entry
        }
    }

    /// The sealed PROPOSED record: the claimed transfer stays stuck, now waiting for approval.
    func propose(_ id: String, _ proposal: ResolutionProposal) -> TransferEntry? {
        state.withLock { state in
            guard var entry = state.entries[id], entry.status == .stuck, entry.pendingResolution != nil else { return nil }
            entry.pendingResolution = nil
            entry.proposal = proposal
            state.entries[id] = entry
            return entry
        }
    }

    /// The sealed MANUAL decision (at `decisionLSN`) replaces the claimed stuck transfer's facts.
    func resolve(_ id: String, _ facts: FinalFacts, decisionLSN: UInt64) -> TransferEntry? {
        state.withLock { state in
            guard var entry = state.entries[id], entry.status == .stuck, entry.pendingResolution != nil else { return nil }
            entry.apply(facts)
            entry.decisionLSN = decisionLSN
            entry.pendingResolution = nil
            entry.proposal = nil
            state.entries[id] = entry
            state.unfinishedRecordBytes -= entry.acceptedRecordBytes
            Self.remember(id, in: &state, max: rememberedMax)
            return entry
        }
    }

    func entry(_ id: String) -> TransferEntry? {
        state.withLock { $0.entries[id] }
    }

    var inFlightCount: Int { state.withLock { $0.inFlight } }

    /// Callers suspended in `waitUntilFinal(id)`.
    func waiterCount(_ id: String) -> Int { state.withLock { $0.waiters[id]?.count ?? 0 } }

    /// Transfers that have not reached a logged decision yet (what a drain waits for).
    var undecidedCount: Int {
        state.withLock { $0.entries.values.count { $0.status == .preparing } }
    }

    /// Suspends until the transfer is final or the task is cancelled (the call's deadline).
    func waitUntilFinal(_ id: String) async {
        let waiterID = state.withLock { state -> UInt64 in
            state.nextWaiterID += 1
            return state.nextWaiterID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    guard let entry = state.entries[id], !entry.status.isFinal, !Task.isCancelled else { return true }
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

    /// Newest first, by submission time, filtered; the page token is the last entry's
    /// "<submittedAt>/<id>".
    func list(
        statuses: Set<TransferStatus>, fromMilliseconds: Int64?, toMilliseconds: Int64?, pageSize: Int, after token: String?,
        submittedBy: String? = nil
    )
        -> (entries: [TransferEntry], nextToken: String?)
    {
        let all = state.withLock { Array($0.entries.values) }
        let cursor = token.flatMap(PageCursor.init(token:))
        let matching = all.filter { entry in
            (statuses.isEmpty || statuses.contains(entry.status))
                && (submittedBy.map { entry.submittedBy == $0 } ?? true)
                && (fromMilliseconds.map { entry.submittedAtMilliseconds >= $0 } ?? true)
                && (toMilliseconds.map { entry.submittedAtMilliseconds < $0 } ?? true)
                && (cursor.map { PageCursor(entry) < $0 } ?? true)
        }
        .sorted { PageCursor($0) > PageCursor($1) }
        let page = Array(matching.prefix(pageSize))
        let next = matching.count > pageSize ? page.last.map { PageCursor($0).token } : nil
        return (page, next)
    }

    private static func difference(_ first: TransferSpec, _ second: TransferSpec) -> String {
        if first.branches.count != second.branches.count {
            return "transfer \(first.id) was submitted with \(first.branches.count) branches; this request has \(second.branches.count)"
        }
        for (index, (a, b)) in zip(first.branches, second.branches).enumerated() where a != b {
            return "transfer \(first.id) was submitted with a different branch \(index) (\(a.participant)/\(a.action))"
        }
        return "transfer \(first.id) was submitted with a different policy"
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
