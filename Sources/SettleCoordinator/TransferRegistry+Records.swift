import SettleCore
import SignedLog

/// How each record changes the registry: the only writer of a transfer's durable fields, the same
/// code live (at enqueue) and on replay (recovery).
extension TransferRegistry {
    typealias Waiter = CheckedContinuation<Void, Never>

    /// The callers waiting for `id`, taken out to be resumed once the lock is released.
    static func takeWaiters(_ id: String, from state: inout State) -> [Waiter] {
        Array(state.waiters.removeValue(forKey: id)?.values ?? [:].values)
    }

    /// Applies one record; returns whether it made its transfer final (END or STUCK of the
    /// admission the registry holds), which is when its waiters may be told.
    @discardableResult
    static func apply(_ record: CoordinatorRecord, lsn: LSN, recordBytes: Int, to state: inout State, rememberedMax: Int) -> Bool {
        let id = record.transferID
        if case .accepted(let spec, let admission, let submittedAt, let submittedBy) = record {
            let sealed = Sealed(
                spec: spec, admission: admission, submittedAtMilliseconds: submittedAt, submittedBy: submittedBy, acceptedLSN: lsn.rawValue
            )
            insert(sealed, recordBytes: recordBytes, into: &state)
            state.transfers[id]?.live.lastRecordLSN = lsn.rawValue
            return false
        }
        guard var transfer = state.transfers[id] else { return false }
        let before = transfer.sealed.final
        apply(record, lsn: lsn, to: &transfer)
        transfer.live.lastRecordLSN = lsn.rawValue
        state.transfers[id] = transfer
        return settle(id, finalBefore: before, in: &state, rememberedMax: rememberedMax)
    }

    /// A transfer as ACCEPTED (or a checkpoint) describes it, replacing an earlier admission of
    /// the same id that a log without checkpoints still holds.
    static func insert(_ sealed: Sealed, recordBytes: Int, into state: inout State) {
        let id = sealed.spec.id
        if let previous = state.transfers[id] {
            if previous.sealed.final == nil { state.inFlight -= 1 }
            if previous.sealed.mustBeKept { state.unfinishedRecordBytes -= previous.live.acceptedRecordBytes }
            state.remembered.forget(id)
            state.sweepPins[id] = nil
        }
        let live = Live(
            status: sealed.final ?? .preparing, branchStates: sealed.spec.branches.map { _ in "pending" }, reason: nil,
            acceptedRecordBytes: sealed.mustBeKept ? recordBytes : 0
        )
        state.transfers[id] = Transfer(sealed: sealed, live: live)
        if sealed.final == nil { state.inFlight += 1 }
        if sealed.mustBeKept { state.unfinishedRecordBytes += live.acceptedRecordBytes }
    }

    private static func apply(_ record: CoordinatorRecord, lsn: LSN, to transfer: inout Transfer) {
        switch record {
        // MANUAL orders what the sweep does with a branch left prepared after it.
        case .commit, .abort, .saga, .compensate, .manual:
            transfer.sealed.decisionLSN = lsn.rawValue
        default:
            break
        }
        switch record {
        case .accepted, .heuristic, .retry:
            // RETRY changes nothing durable: it only records who asked for an early attempt.
            // HEURISTIC records what a branch did; the decision it leads to (a re-drive under
            // COMMIT, or COMPENSATE) is its own record, so recovery follows those.
            break
        case .commit:
            transfer.sealed.decision = .commit
        case .abort(_, let reason):
            transfer.sealed.decision = .abort
            transfer.sealed.reason = reason
        case .saga(_, let deadline):
            transfer.sealed.decision = .saga
            transfer.sealed.sagaDeadlineAtMilliseconds = deadline
        case .compensate(_, let reason):
            transfer.sealed.decision = .compensate
            transfer.sealed.reason = reason
        case .end(_, _, let facts) where isOfAnotherAdmission(facts, transfer),
            .stuck(_, _, let facts) where isOfAnotherAdmission(facts, transfer):
            // The ending of an earlier admission of this id, sealed after it was admitted again.
            break
        case .end(_, let outcome, let facts):
            transfer.sealed.final = TransferStatus(outcome)
            transfer.sealed.facts = facts
        case .stuck(_, let reason, let facts):
            transfer.sealed.final = .stuck
            transfer.sealed.reason = reason
            transfer.sealed.facts = facts
        case .proposed(_, let outcome, let reason, let who):
            transfer.live.pendingResolution = nil
            guard transfer.sealed.final == .stuck else { break }
            transfer.sealed.proposal = ResolutionProposal(outcome: outcome, reason: reason, operator: who)
        case .rejected:
            transfer.live.pendingResolution = nil
            transfer.sealed.proposal = nil
        case .manual(_, let outcome, let reason, let who, let finishedAt, let approver):
            // Its claim (pendingResolution) stands until MANUAL is sealed (`append`): meanwhile the
            // transfer still reads as stuck, and a second Resolve must not claim it.
            let stuck = transfer.sealed.facts ?? transfer.factsOfAnOlderRecord(final: .stuck)
            let facts = stuck.resolved(
                as: outcome, by: ResolutionProposal.resolvedBy(who, approvedBy: approver), reason: reason,
                atMilliseconds: finishedAt ?? stuck.finishedAtMilliseconds
            )
            transfer.sealed.final = outcome
            transfer.sealed.proposal = nil
            transfer.sealed.reason = facts.reason
            transfer.sealed.facts = facts
        }
    }

    /// Whether a final record names an admission other than the one held for its id (records
    /// from before admissions were sealed in them name none, and always apply).
    private static func isOfAnotherAdmission(_ facts: FinalFacts?, _ transfer: Transfer) -> Bool {
        guard let sealed = facts?.admission else { return false }
        return sealed != transfer.sealed.admission
    }

    /// The counters and the remembered order follow a transfer that became final (END, STUCK)
    /// or finished after being stuck (MANUAL, or END after a retry: pinned until swept clean
    /// instead); returns whether it became final.
    private static func settle(_ id: String, finalBefore before: TransferStatus?, in state: inout State, rememberedMax: Int) -> Bool {
        guard let transfer = state.transfers[id], let final = transfer.sealed.final else { return false }
        if before == nil { state.inFlight -= 1 }
        if final != .stuck, before == nil || before == .stuck, !(before == .stuck && pinUntilSwept(id, in: &state)) {
            release(id, in: &state, rememberedMax: rememberedMax)
        }
        return before == nil
    }

    /// Remembers a finished transfer, forgetting the oldest finished ones beyond `max`. An
    /// unfinished or stuck transfer is never in this order, so never forgotten.
    static func remember(_ id: String, in state: inout State, max: Int) {
        state.remembered.append(id)
        while state.remembered.count > max, let oldest = state.remembered.removeOldest() {
            if state.transfers[oldest]?.sealed.isFinished == true { state.transfers.removeValue(forKey: oldest) }
        }
    }
}

extension TransferStatus {
    init(_ outcome: TransferOutcome) {
        switch outcome {
        case .committed: self = .committed
        case .aborted: self = .aborted
        case .compensated: self = .compensated
        }
    }
}

/// Finished transfers in the order they finished, each with the sequence number of its finishing,
/// so that an id finished again (a forgotten id admitted anew) is never forgotten by its older
/// place in the order.
struct RememberedOrder {
    private var order: [(id: String, sequence: UInt64)] = []
    private var start = 0
    private var sequences: [String: UInt64] = [:]
    private var nextSequence: UInt64 = 0

    var count: Int { sequences.count }

    mutating func append(_ id: String) {
        nextSequence += 1
        order.append((id, nextSequence))
        sequences[id] = nextSequence
    }

    mutating func forget(_ id: String) { sequences[id] = nil }

    mutating func removeOldest() -> String? {
        while start < order.count {
            let (id, sequence) = order[start]
            start += 1
            if sequences[id] == sequence {
                sequences[id] = nil
                compact()
                return id
            }
        }
        return nil
    }

    /// Remembered ids, newest first.
    var newestFirst: [String] {
        order[start...].reversed().compactMap { id, sequence in sequences[id] == sequence ? id : nil }
    }

    private mutating func compact() {
        guard start > 4096, start * 2 > order.count else { return }
        order.removeFirst(start)
        start = 0
    }
}
