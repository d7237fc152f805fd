import Foundation
import Logging
import SettleCore
import SignedLog
import Synchronization

/// The coordinator's records, in log order, and what they say about each transfer.
///
/// A record is applied to this view and handed to the log under one lock, so the view always
/// matches exactly the records enqueued so far; a checkpoint taken under the same lock therefore
/// describes precisely the records before it. (Built from the API table instead, a checkpoint
/// could miss a COMMIT already in the log but not yet reflected — and recovery would then abort
/// a committed transfer.)
final class Journal: Sendable {
    struct Entry: Codable, Sendable, Equatable {
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
    }

    private struct State {
        var entries: [String: Entry] = [:]
        /// Finished transfers, oldest first, each with the sequence number of its finishing, so
        /// that an id finished again (a MANUAL after STUCK, a forgotten id admitted anew) is never
        /// forgotten by its older place in the order.
        var finishedOrder: [(id: String, sequence: UInt64)] = []
        var finishedSequence: [String: UInt64] = [:]
        var nextSequence: UInt64 = 0

        mutating func finished(_ id: String) {
            nextSequence += 1
            finishedOrder.append((id, nextSequence))
            finishedSequence[id] = nextSequence
        }
    }

    private let state = Mutex(State())
    private let log: SignedLog
    var logDirectory: String { log.directory }
    private let rememberedMax: Int

    static let checkpointBytesBudget = Limits.checkpointBytesBudget

    /// What one checkpoint may hold; finished transfers beyond it are left out, oldest first.
    private let checkpointBytesBudget: Int

    init(log: SignedLog, rememberedMax: Int, checkpointBytesBudget: Int = Journal.checkpointBytesBudget) {
        self.log = log
        self.rememberedMax = rememberedMax
        self.checkpointBytesBudget = checkpointBytesBudget
    }

    /// Applies `record` and appends it; returns its LSN once it is sealed and durable.
    @discardableResult
    func append(_ record: CoordinatorRecord) async throws -> LSN {
        try await append(record, encoded: record.entry())
    }

    /// `append` of a record the caller already encoded (Submit measures its size first).
    @discardableResult
    func append(_ record: CoordinatorRecord, encoded entry: LogEntry) async throws -> LSN {
        let lsns = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<[LSN], any Error>) in
            state.withLock { state in
                // The LSN is known at enqueue, so a checkpoint taken under this lock right after
                // already carries it.
                // A record refused at once (nil: a full queue, a failed log) is not in the log, so
                // it is not in this view either; its caller hears the refusal.
                if let lsn = log.enqueue([entry], completion: { continuation.resume(with: $0) }) {
                    Self.apply(record, lsn: lsn, to: &state, rememberedMax: rememberedMax)
                }
            }
        }
        return lsns[0]
    }

    /// `append` for the coordinator's decisions: a log that cannot be written leaves settled
    /// unable to decide anything safely, so it stops, and a restart recovers from the last seal.
    @discardableResult
    func appendOrStop(_ record: CoordinatorRecord, encoded: LogEntry? = nil, logger: Logger) async -> LSN {
        while true {
            do {
                return try await append(record, encoded: encoded ?? record.entry())
            } catch let error as SignedLogError where error.code == .queueFull {
                // Backpressure, not a failure: the writer drains its queue batch by batch.
                logger.warning("the recovery log's queue is full; waiting", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: .milliseconds(5))
            } catch {
                LogFailure.stop(error, directory: log.directory, logger: logger)
            }
        }
    }

    /// Appends a checkpoint of every unfinished and remembered finished transfer.
    func appendCheckpoint() async throws -> LSN {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let lsns = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<[LSN], any Error>) in
            state.withLock { state in
                // Every unfinished or stuck transfer, always (a stuck one waits for an operator and
                // must never be forgotten); then finished ones, newest first, while they fit the
                // budget (they only serve idempotency and Get after a restart).
                var entries = state.entries.values.filter { $0.final == nil || $0.final == .stuck }.map { entry in
                    // Encoding plain Codable structs of strings and integers cannot fail.
                    Checkpoint.Entry(id: entry.spec.id, state: Array(try! encoder.encode(entry)))
                }
                var budget = checkpointBytesBudget - entries.reduce(0) { $0 + $1.state.count + $1.id.utf8.count + 6 }
                for (id, sequence) in state.finishedOrder.reversed() where state.finishedSequence[id] == sequence {
                    guard let entry = state.entries[id], entry.final != nil, entry.final != .stuck else { continue }
                    let encoded = Array(try! encoder.encode(entry))
                    budget -= encoded.count + id.utf8.count + 6
                    if budget < 0 { break }
                    entries.append(Checkpoint.Entry(id: id, state: encoded))
                }
                log.enqueue([LogEntry(type: .checkpoint, payload: Checkpoint(unfinished: entries).encoded())]) {
                    continuation.resume(with: $0)
                }
            }
        }
        return lsns[0]
    }

    /// Rebuilds the view from the last checkpoint and the records after it.
    func recover(checkpoint: Checkpoint?, records: [LogRecord]) throws -> [Entry] {
        try state.withLock { state in
            state = State()
            var finished: [Entry] = []
            for item in checkpoint?.unfinished ?? [] {
                let entry = try JSONDecoder().decode(Entry.self, from: Data(item.state))
                state.entries[entry.spec.id] = entry
                // A stuck transfer waits for its MANUAL record, which finishes it.
                if entry.final != nil && entry.final != .stuck { finished.append(entry) }
            }
            // The checkpoint lists finished transfers newest first; they are remembered oldest
            // first, so that the next to be forgotten are the oldest, as before the restart.
            for entry in finished.sorted(by: Self.finishedEarlier) { state.finished(entry.spec.id) }
            for record in records {
                guard let coordinatorRecord = try CoordinatorRecord(record) else { continue }
                Self.apply(coordinatorRecord, lsn: record.lsn, to: &state, rememberedMax: rememberedMax)
            }
            // In finishing order, oldest first, so the table remembers them as the journal does.
            let unfinished = state.entries.values.filter { $0.final == nil || $0.final == .stuck }
            let finishedEntries = state.finishedOrder.compactMap { id, sequence in
                state.finishedSequence[id] == sequence ? state.entries[id] : nil
            }
            return unfinished + finishedEntries
        }
    }

    /// Finishing order as sealed: by the finishing time the final record carries, else by
    /// submission (records from before final facts were sealed).
    static func finishedEarlier(_ first: Entry, _ second: Entry) -> Bool {
        let firstTime = first.facts?.finishedAtMilliseconds ?? first.submittedAtMilliseconds
        let secondTime = second.facts?.finishedAtMilliseconds ?? second.submittedAtMilliseconds
        return (firstTime, first.spec.id) < (secondTime, second.spec.id)
    }

    /// Whether a final record names an admission other than the one the journal holds for its id
    /// (records from before admissions were sealed in them name none, and always apply).
    private static func isOfAnotherAdmission(_ facts: FinalFacts?, _ entry: Entry?) -> Bool {
        guard let sealed = facts?.admission else { return false }
        return sealed != entry?.admission
    }

    private static func apply(_ record: CoordinatorRecord, lsn: LSN, to state: inout State, rememberedMax: Int) {
        let id = record.transferID
        switch record {
        // MANUAL orders what the sweep does with a branch left prepared after it.
        case .commit, .abort, .saga, .compensate, .manual:
            state.entries[id]?.decisionLSN = lsn.rawValue
        default:
            break
        }
        switch record {
        case .accepted(let spec, let admission, let submittedAt, let submittedBy):
            state.entries[id] = Entry(
                spec: spec, admission: admission, submittedAtMilliseconds: submittedAt, submittedBy: submittedBy, acceptedLSN: lsn.rawValue
            )
        case .commit:
            state.entries[id]?.decision = .commit
        case .abort(_, let reason):
            state.entries[id]?.decision = .abort
            state.entries[id]?.reason = reason
        case .end(_, _, let facts) where isOfAnotherAdmission(facts, state.entries[id]):
            // The END of an earlier admission of this id, sealed after the id was admitted again.
            break
        case .end(_, let outcome, let facts):
            switch outcome {
            case .committed: state.entries[id]?.final = .committed
            case .aborted: state.entries[id]?.final = .aborted
            case .compensated: state.entries[id]?.final = .compensated
            }
            state.entries[id]?.facts = facts
            state.finished(id)
        case .saga:
            state.entries[id]?.decision = .saga
        case .compensate(_, let reason):
            state.entries[id]?.decision = .compensate
            state.entries[id]?.reason = reason
        case .stuck(_, _, let facts) where isOfAnotherAdmission(facts, state.entries[id]):
            break
        case .stuck(_, let reason, let facts):
            state.entries[id]?.final = .stuck
            state.entries[id]?.reason = reason
            state.entries[id]?.facts = facts
        case .proposed(_, let outcome, let reason, let who):
            guard state.entries[id]?.final == .stuck else { break }
            state.entries[id]?.proposal = ResolutionProposal(outcome: outcome, reason: reason, operator: who)
        case .rejected:
            state.entries[id]?.proposal = nil
        case .manual(_, let outcome, let reason, let who, let finishedAt, let approver):
            guard var entry = state.entries[id] else { break }
            let stuck =
                entry.facts
                ?? FinalFacts(
                    status: .stuck, path: "", reason: entry.reason ?? "", finishedAtMilliseconds: entry.submittedAtMilliseconds,
                    branchStates: entry.spec.branches.map { _ in outcome.rawValue }, admission: entry.admission
                )
            let facts = stuck.resolved(
                as: outcome, by: ResolutionProposal.resolvedBy(who, approvedBy: approver), reason: reason,
                atMilliseconds: finishedAt ?? stuck.finishedAtMilliseconds
            )
            entry.final = outcome
            entry.proposal = nil
            entry.reason = facts.reason
            entry.facts = facts
            state.entries[id] = entry
            state.finished(id)
        case .heuristic:
            // A record of what a branch did; the decision it leads to (re-drive under COMMIT, or
            // COMPENSATE) is its own record, so recovery follows those.
            break
        }
        if state.finishedOrder.count > rememberedMax + rememberedMax / 4 {
            let forgotten = state.finishedOrder.prefix(state.finishedOrder.count - rememberedMax)
            for (old, sequence) in forgotten where state.finishedSequence[old] == sequence {
                state.finishedSequence[old] = nil
                if let final = state.entries[old]?.final, final != .stuck { state.entries.removeValue(forKey: old) }
            }
            state.finishedOrder.removeFirst(forgotten.count)
        }
    }
}

/// A four-eyes resolution sealed by one operator and waiting for another's approval.
struct ResolutionProposal: Codable, Sendable, Equatable {
    var outcome: TransferStatus
    var reason: String
    var `operator`: String

    var summary: String { "\(outcome.rawValue) proposed by \(`operator`)" }

    /// Who a MANUAL record says resolved the transfer, as Get and the table show it.
    static func resolvedBy(_ who: String, approvedBy approver: String?) -> String {
        approver.map { "\(who), approved by \($0)" } ?? who
    }
}
