import Foundation
import Logging
import SettleCore
import SignedLog
import Synchronization

/// Every transfer the coordinator knows — in flight, stuck, and the most recently finished (for
/// Submit's idempotency, Get and List) — and the one door to the recovery log.
///
/// Two kinds of fields sit side by side. The durable ones (`Sealed`: status once final, decision,
/// reason, who resolved it, when it finished) are written only by applying log records, so a
/// restart that replays the log rebuilds exactly what was reported. The live ones (`Live`: the
/// branch progress the driver reports, a Resolve in progress, the callers waiting) exist only
/// while this process runs.
///
/// A record is applied and handed to the log under one lock, so the registry always matches
/// exactly the records enqueued so far; a checkpoint taken under the same lock therefore describes
/// precisely the records before it. A transfer is final here from the moment its final record is
/// enqueued: every later record, an operator's MANUAL among them, follows it in the log, and
/// recovery from a log that lost the unsealed tail re-drives the transfer from its sealed decision
/// to the same end.
final class TransferRegistry: Sendable {
    /// What the log's records say of one transfer; the checkpoint stores it as JSON, so its field
    /// names are part of the log's format.
    struct Sealed: Codable, Sendable, Equatable {
        var spec: TransferSpec
        var admission: Admission
        var submittedAtMilliseconds: Int64
        /// The latest decision; nil while undecided.
        var decision: Decision?
        /// The LSN of the record that sealed `decision`: every phase-two command it leads to is
        /// signed over it. Nil in checkpoints written before commands were signed.
        var decisionLSN: UInt64?
        var reason: String?
        /// Set by END or COMPENSATED (committed, aborted, compensated), STUCK (stuck) or MANUAL.
        var final: TransferStatus?
        /// What END, COMPENSATED, STUCK or MANUAL sealed about the ending; nil in records written
        /// before these facts were sealed.
        var facts: FinalFacts?
        /// The client that submitted it; nil in records from before clients were named.
        var submittedBy: String?
        /// Four-eyes: the sealed proposal waiting for a second operator's approval.
        var proposal: ResolutionProposal?
        /// The LSN of its ACCEPTED record, which its Prepares are signed over.
        var acceptedLSN: UInt64?
        /// When its saga gives up, as SAGA sealed it (wall-clock milliseconds).
        var sagaDeadlineAtMilliseconds: Int64?

        var isFinished: Bool { final != nil && final != .stuck }
        /// Unfinished or stuck: every checkpoint carries it, and it is never forgotten.
        var mustBeKept: Bool { final == nil || final == .stuck }
    }

    /// What only the running process knows of one transfer.
    struct Live: Sendable {
        /// Where the driver's machine stands, until a final record says otherwise.
        var status: TransferStatus = .preparing
        var branchStates: [String]
        var reason: String?
        /// A Resolve has claimed this stuck transfer and is sealing its record.
        var pendingResolution: String?
        /// Its final record is enqueued but not yet sealed, and must not be reported before.
        var endingAwaitsSeal = false
        /// While an operator's resolution (MANUAL) awaits its seal: the stuck ending reported
        /// meanwhile, so that nothing (Get, the console, the in-doubt sweep) acts on a decision the
        /// log may yet lose.
        var reportedUntilSealed: FinalFacts?
        /// Its last record's LSN (for one restored from a checkpoint, a bound: the first record
        /// after the checkpoint), where the console's reading of its timeline stops; nil: unknown.
        var lastRecordLSN: UInt64?
        /// Bytes of its ACCEPTED record, counted against the unfinished-bytes budget until it is
        /// finished (a stuck transfer still counts: every checkpoint carries it).
        var acceptedRecordBytes: Int
        /// Branches whose phase-two call or compensation is waiting to be retried, by index.
        var retries: [Int: BranchRetry] = [:]
        /// Each branch's latest failed call, by index: why a transfer is stuck or retrying.
        var lastErrors: [Int: String] = [:]
    }

    /// A branch between two attempts of a phase-two call or compensation.
    struct BranchRetry: Sendable, Equatable {
        /// commit, rollback or compensate.
        var operation: String
        /// Attempts made so far.
        var attempts: Int
        var nextAttemptAtMilliseconds: Int64
    }

    struct Transfer: Sendable {
        var sealed: Sealed
        var live: Live
    }

    struct State {
        var transfers: [String: Transfer] = [:]
        var remembered = RememberedOrder()
        /// Transfers without a final record.
        var inFlight = 0
        var unfinishedRecordBytes = 0
        var waiters: [String: [UInt64: CheckedContinuation<Void, Never>]] = [:]
        var nextWaiterID: UInt64 = 0
        /// Finished transfers kept until swept clean (TransferRegistry+SweepPins).
        var sweepPins: [String: SweepPin] = [:]
        var sweepsStarted: UInt64 = 0
        var sweptParticipants: Set<String>?
        var admissionsStopped = false
    }

    let state = Mutex(State())
    let log: any RecordLog
    let inFlightMax: Int
    let rememberedMax: Int
    /// Every checkpoint carries each unfinished transfer whole, so their ACCEPTED records together
    /// must fit one checkpoint record; admission stops before that.
    let unfinishedRecordBytesMax: Int
    /// What one checkpoint may hold; finished transfers beyond it are left out, oldest first.
    let checkpointBytesBudget: Int

    /// - Parameter sweptParticipants: the participants the in-doubt sweep asks (the configured
    ///   ones); a transfer is pinned only until those are swept clean, so a participant removed
    ///   from the configuration never pins anything (TransferRegistry+SweepPins). Nil: any.
    init(
        log: any RecordLog, inFlightMax: Int, rememberedMax: Int, checkpointBytesBudget: Int = Limits.checkpointBytesBudget,
        unfinishedRecordBytesMax: Int? = nil, sweptParticipants: Set<String>? = nil
    ) {
        self.log = log
        self.inFlightMax = inFlightMax
        self.rememberedMax = rememberedMax
        self.checkpointBytesBudget = checkpointBytesBudget
        self.unfinishedRecordBytesMax = unfinishedRecordBytesMax ?? checkpointBytesBudget / 2
        state.withLock { $0.sweptParticipants = sweptParticipants }
    }

    enum AdmitResult {
        /// ACCEPTED is sealed at this LSN.
        case admitted(acceptedLSN: UInt64)
        case existing(TransferEntry)
        case conflict(TransferEntry, String)
        case full(String)
        /// The coordinator is draining (`stopAdmitting`).
        case stopped
    }

    /// From now on `admit` refuses new transfers. Under the lock that admits, so that a Submit that
    /// passed the service's draining check just before the drain began is either admitted before
    /// the drain counts what is undecided (and so driven and waited for) or refused; never
    /// admitted after the drivers' stream has closed, with nothing to drive it.
    func stopAdmitting() {
        state.withLock { $0.admissionsStopped = true }
    }

    /// Admits a new transfer by sealing its ACCEPTED record, or says why not: already known (same
    /// body or not), at capacity, or the log's queue is full (backpressure the client retries).
    /// A finished id this registry no longer remembers is admitted again, as a new transfer: its
    /// admission is new, so none of its gids can be mistaken for the forgotten one's.
    func admit(_ accepted: CoordinatorRecord, encoded: LogEntry, logger: Logger) async -> AdmitResult {
        guard case .accepted(let spec, _, _, _) = accepted else { preconditionFailure("admit takes an ACCEPTED record") }
        let outcome = await withCheckedContinuation { (continuation: CheckedContinuation<Result<AdmitResult, any Error>, Never>) in
            let refusal = state.withLock { state -> AdmitResult? in
                if let known = state.transfers[spec.id] {
                    let entry = TransferEntry(known)
                    return known.sealed.spec == spec ? .existing(entry) : .conflict(entry, Self.difference(known.sealed.spec, spec))
                }
                if state.admissionsStopped { return .stopped }
                if let full = admissionRefusal(state, recordBytes: encoded.payload.count) { return .full(full) }
                let lsn = log.enqueue([encoded]) { result in continuation.resume(returning: result.map { .admitted(acceptedLSN: $0[0].rawValue) }) }
                if let lsn { Self.apply(accepted, lsn: lsn, recordBytes: encoded.payload.count, to: &state, rememberedMax: rememberedMax) }
                return nil
            }
            if let refusal { continuation.resume(returning: .success(refusal)) }
        }
        switch outcome {
        case .success(let result):
            return result
        case .failure(let error as SignedLogError) where error.code == .queueFull:
            return .full("the recovery log's queue is full; retry later")
        case .failure(let error):
            LogFailure.stop(error, directory: log.directory, logger: logger)
        }
    }

    private func admissionRefusal(_ state: State, recordBytes: Int) -> String? {
        if state.inFlight >= inFlightMax { return "\(inFlightMax) transfers are in flight; retry later" }
        guard state.unfinishedRecordBytes + recordBytes <= unfinishedRecordBytesMax else {
            return "unfinished transfers already hold \(state.unfinishedRecordBytes) of \(unfinishedRecordBytesMax) bytes of "
                + "accepted records; retry later"
        }
        return nil
    }

    /// Applies `record` and appends it; returns its LSN once it is sealed and durable.
    ///
    /// The ending of a two-phase commit (END after COMMIT or ABORT) is reported the moment it is
    /// enqueued: a restart before END is sealed re-drives phase two, which retries until every
    /// branch answers, to that same ending. Every other ending (a saga's END, a compensation's,
    /// STUCK) is reported only once sealed — to waiters, Get and List alike — because a saga's
    /// re-drive or a compensation's bounded attempts may end otherwise after a restart (found by
    /// the driver simulation: a client told "compensated" of a transfer the log then left stuck).
    /// An operator's resolution (MANUAL) is a decision the sweep acts on, so until it is sealed
    /// the transfer is reported as the stuck one it was.
    @discardableResult
    func append(_ record: CoordinatorRecord, encoded: LogEntry? = nil) async throws -> LSN {
        let entry = encoded ?? record.entry()
        let id = record.transferID
        // The admission the record was enqueued for: what its seal completes, even if the id was
        // forgotten and admitted again meanwhile.
        var admission: Admission?
        let lsns = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<[LSN], any Error>) in
            let woken = state.withLock { state -> [Waiter] in
                admission = state.transfers[id]?.sealed.admission
                // Only a resolution needs what was reported before it (see `reportedUntilSealed`).
                let reportedBefore: FinalFacts? = if case .manual = record { state.transfers[id]?.reportedFinalFacts } else { nil }
                // A record refused at once (nil: a full queue, a failed log) is not in the log, so
                // it is not applied either; its caller hears the refusal.
                guard let lsn = log.enqueue([entry], completion: { continuation.resume(with: $0) }) else { return [] }
                let madeFinal = Self.apply(record, lsn: lsn, recordBytes: entry.payload.count, to: &state, rememberedMax: rememberedMax)
                if case .manual = record, state.transfers[id] != nil {
                    state.transfers[id]?.live.endingAwaitsSeal = true
                    state.transfers[id]?.live.reportedUntilSealed = reportedBefore
                    return []
                }
                guard madeFinal else { return [] }
                if Self.endsTwoPhaseCommit(record, state.transfers[id]?.sealed) { return Self.takeWaiters(id, from: &state) }
                state.transfers[id]?.live.endingAwaitsSeal = true
                return []
            }
            for waiter in woken { waiter.resume() }
        }
        // Only a final record can have had its ending held back; every other seal returns here
        // without taking the lock a second time.
        switch record {
        case .end, .stuck, .manual: break
        default: return lsns[0]
        }
        let woken = state.withLock { state -> [Waiter] in
            guard let transfer = state.transfers[id], transfer.sealed.admission == admission else { return [] }
            if case .manual = record { state.transfers[id]?.live.pendingResolution = nil }
            guard transfer.live.endingAwaitsSeal else { return [] }
            state.transfers[id]?.live.endingAwaitsSeal = false
            state.transfers[id]?.live.reportedUntilSealed = nil
            return Self.takeWaiters(id, from: &state)
        }
        for waiter in woken { waiter.resume() }
        return lsns[0]
    }

    private static func endsTwoPhaseCommit(_ record: CoordinatorRecord, _ sealed: Sealed?) -> Bool {
        guard case .end = record else { return false }
        return sealed?.decision == .commit || sealed?.decision == .abort
    }

    /// `append` for the coordinator's decisions: a log that cannot be written leaves settled
    /// unable to decide anything safely, so it stops, and a restart recovers from the last seal.
    @discardableResult
    func appendOrStop(_ record: CoordinatorRecord, logger: Logger) async -> LSN {
        let entry = record.entry()
        while true {
            do {
                return try await append(record, encoded: entry)
            } catch let error as SignedLogError where error.code == .queueFull {
                // Backpressure, not a failure: the writer drains its queue batch by batch.
                logger.warning("the recovery log's queue is full; waiting", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: .milliseconds(5))
            } catch {
                LogFailure.stop(error, directory: log.directory, logger: logger)
            }
        }
    }

    /// The driver's report of where an unfinished transfer stands; ignored once it is final.
    func updateLive(_ id: String, _ change: (inout Live) -> Void) {
        state.withLock { state in
            guard var transfer = state.transfers[id], transfer.sealed.final == nil else { return }
            change(&transfer.live)
            state.transfers[id] = transfer
        }
    }

    func entry(_ id: String) -> TransferEntry? {
        state.withLock { state in state.transfers[id].map(TransferEntry.init) }
    }

    var inFlightCount: Int { state.withLock { $0.inFlight } }

    /// Stuck transfers, which wait for an operator (the stuck-transfer alert's gauge).
    var stuckCount: Int { state.withLock { $0.transfers.values.count { $0.sealed.final == .stuck } } }

    /// Transfers that have not reached a logged decision yet (what a drain waits for).
    var undecidedCount: Int {
        state.withLock { $0.transfers.values.count { $0.sealed.decision == nil && $0.sealed.final == nil } }
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

/// What the registry needs of the recovery log: records handed over in order, each answered once
/// its batch is sealed and durable. `SignedLog` in settled; an in-memory log in the simulator.
protocol RecordLog: Sendable {
    /// Named when the log fails, so an operator knows which disk to look at.
    var directory: String { get }
    /// Returns the LSN the first entry will have once written (nil when refused at once, and then
    /// `completion` has already been called with the refusal).
    func enqueue(_ entries: [LogEntry], completion: @escaping @Sendable (Result<[LSN], any Error>) -> Void) -> LSN?
}

extension SignedLog: RecordLog {}
