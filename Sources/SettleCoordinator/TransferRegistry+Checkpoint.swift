import Foundation
import SettleCore
import SignedLog

/// Checkpoints written from the registry and the registry rebuilt from the log.
extension TransferRegistry {
    /// Appends a checkpoint of every unfinished, stuck and pinned transfer, and of the remembered
    /// finished ones, newest first, while they fit the budget (they only serve idempotency and Get after a
    /// restart).
    func appendCheckpoint() async throws -> LSN {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let lsns = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<[LSN], any Error>) in
            state.withLock { state in
                // Encoding plain Codable structs of strings and integers cannot fail.
                func encoded(_ sealed: Sealed) -> Checkpoint.Entry { .init(id: sealed.spec.id, state: Array(try! encoder.encode(sealed))) }
                // In admission order, so that the same state always writes the same checkpoint.
                var entries = state.transfers.values.filter { $0.sealed.mustBeKept || state.sweepPins[$0.sealed.spec.id] != nil }
                    .map(\.sealed)
                    .sorted(by: Self.admittedEarlier).map(encoded)
                var budget = checkpointBytesBudget - entries.reduce(0) { $0 + $1.state.count + $1.id.utf8.count + 6 }
                for id in state.remembered.newestFirst {
                    guard let transfer = state.transfers[id], transfer.sealed.isFinished else { continue }
                    let entry = encoded(transfer.sealed)
                    budget -= entry.state.count + id.utf8.count + 6
                    if budget < 0 { break }
                    entries.append(entry)
                }
                _ = log.enqueue([LogEntry(type: .checkpoint, payload: Checkpoint(unfinished: entries).encoded())]) {
                    continuation.resume(with: $0)
                }
            }
        }
        return lsns[0]
    }

    /// Rebuilds the registry from the last checkpoint and the records after it; returns the
    /// transfers that are neither finished nor stuck, which recovery drives again.
    /// - Parameter logEnd: the log's last sealed LSN, the bound of a checkpointed transfer's
    ///   records when nothing follows the checkpoint.
    func recover(checkpoint: Checkpoint?, records: [LogRecord], logEnd: UInt64? = nil) throws -> [Sealed] {
        try state.withLock { state in
            state = State(sweptParticipants: state.sweptParticipants)
            var finished: [Sealed] = []
            for item in checkpoint?.unfinished ?? [] {
                let sealed = try JSONDecoder().decode(Sealed.self, from: Data(item.state))
                Self.insert(sealed, recordBytes: sealed.mustBeKept ? Self.acceptedRecordBytes(sealed) : 0, into: &state)
                // Its records lie before the checkpoint, or are replayed below and move this on.
                state.transfers[sealed.spec.id]?.live.lastRecordLSN = records.first?.lsn.rawValue ?? logEnd
                if sealed.isFinished, sealed.facts?.resolvedBy != nil, Self.pinUntilSwept(sealed.spec.id, in: &state) {
                    let bytes = Self.acceptedRecordBytes(sealed)
                    state.transfers[sealed.spec.id]?.live.acceptedRecordBytes = bytes
                    state.unfinishedRecordBytes += bytes
                } else if sealed.isFinished {
                    finished.append(sealed)
                }
            }
            // The checkpoint lists finished transfers newest first; they are remembered oldest
            // first, so that the next to be forgotten are the oldest, as before the restart.
            for sealed in finished.sorted(by: Self.finishedEarlier) {
                Self.remember(sealed.spec.id, in: &state, max: rememberedMax)
            }
            for record in records {
                guard let coordinatorRecord = try CoordinatorRecord(record) else { continue }
                Self.apply(coordinatorRecord, lsn: record.lsn, recordBytes: record.payload.count, to: &state, rememberedMax: rememberedMax)
            }
            // Oldest first, and in the same order on every run, whatever the dictionary's order.
            return state.transfers.values.filter { $0.sealed.final == nil }.map(\.sealed)
                .sorted(by: Self.admittedEarlier)
        }
    }

    /// Measured as Submit measured it, for the unfinished-bytes budget.
    private static func acceptedRecordBytes(_ sealed: Sealed) -> Int {
        CoordinatorRecord.accepted(
            sealed.spec, admission: sealed.admission, submittedAtMilliseconds: sealed.submittedAtMilliseconds,
            submittedBy: sealed.submittedBy
        ).entry().payload.count
    }

    /// Admission order (ACCEPTED's LSN, then id for logs that did not keep it): the same state
    /// always gives the same order, whatever the dictionary's.
    static func admittedEarlier(_ first: Sealed, _ second: Sealed) -> Bool {
        (first.acceptedLSN ?? 0, first.spec.id) < (second.acceptedLSN ?? 0, second.spec.id)
    }

    /// Finishing order as sealed: by the finishing time the final record carries, else by
    /// submission (records from before final facts were sealed).
    static func finishedEarlier(_ first: Sealed, _ second: Sealed) -> Bool {
        let firstTime = first.facts?.finishedAtMilliseconds ?? first.submittedAtMilliseconds
        let secondTime = second.facts?.finishedAtMilliseconds ?? second.submittedAtMilliseconds
        return (firstTime, first.spec.id) < (secondTime, second.spec.id)
    }
}
