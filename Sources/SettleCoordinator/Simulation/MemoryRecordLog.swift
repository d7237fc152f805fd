import SignedLog
import Synchronization

/// A recovery log in memory, for the simulator and the coordinator's tests: records get LSNs in
/// enqueue order and are sealed when the owner says (or at once), and a crash loses what was not
/// sealed, as `SignedLog` loses an unsealed batch.
final class MemoryRecordLog: RecordLog, Sendable {
    private struct Pending {
        let firstLSN: UInt64
        let count: Int
        let completion: @Sendable (Result<[LSN], any Error>) -> Void
    }

    private struct State {
        var sealed: [LogRecord] = []
        var unsealed: [LogRecord] = []
        var pending: [Pending] = []
        var nextLSN: UInt64 = 1
    }

    private let state = Mutex(State())
    private let sealsAtOnce: Bool

    var directory: String { "(in memory)" }

    /// - Parameter sealsAtOnce: every enqueue is sealed before it returns (its completion runs
    ///   at once); otherwise only `sealNext` and `sealAll` seal.
    init(sealsAtOnce: Bool) {
        self.sealsAtOnce = sealsAtOnce
    }

    func enqueue(_ entries: [LogEntry], completion: @escaping @Sendable (Result<[LSN], any Error>) -> Void) -> LSN? {
        let (first, sealedNow) = state.withLock { state -> (UInt64, [Pending]) in
            let first = state.nextLSN
            for entry in entries {
                state.unsealed.append(
                    LogRecord(
                        lsn: LSN(rawValue: state.nextLSN), type: entry.type, appendedAtNanoseconds: 0, payload: entry.payload,
                        chainHash: SHA256Digest(hashing: [UInt8]())
                    )
                )
                state.nextLSN += 1
            }
            state.pending.append(Pending(firstLSN: first, count: entries.count, completion: completion))
            return (first, sealsAtOnce ? Self.seal(state.pending.count, &state) : [])
        }
        Self.complete(sealedNow)
        return LSN(rawValue: first)
    }

    /// Seals the oldest `count` waiting appends (each with everything before it), as one batch.
    func sealNext(_ count: Int = 1) {
        Self.complete(state.withLock { Self.seal(count, &$0) })
    }

    func sealAll() {
        Self.complete(state.withLock { Self.seal($0.pending.count, &$0) })
    }

    var waitingAppends: Int { state.withLock { $0.pending.count } }

    /// What survives a crash: the sealed records; later LSNs continue after the last of them. The
    /// waiting appends belonged to the process that crashed: they are answered (with LSN 0) only
    /// so that its tasks can end, and the caller must have fenced that process off first (its
    /// participant calls refused), since it may act on the answer.
    func crash() {
        let orphaned = state.withLock { state -> [Pending] in
            defer {
                state.unsealed = []
                state.pending = []
                state.nextLSN = (state.sealed.last?.lsn.rawValue ?? 0) + 1
            }
            return state.pending
        }
        for pending in orphaned { pending.completion(.success(Array(repeating: LSN(rawValue: 0), count: pending.count))) }
    }

    var sealedRecords: [LogRecord] { state.withLock { $0.sealed } }

    /// The last sealed checkpoint and the records after it, as `SignedLog.recoveryRecords`.
    func recoveryRecords() -> (checkpoint: Checkpoint?, records: [LogRecord]) {
        let records = sealedRecords
        guard let index = records.lastIndex(where: { $0.type == .checkpoint }),
            case .success(let checkpoint) = Checkpoint.decode(records[index].payload)
        else { return (nil, records) }
        return (checkpoint, Array(records[(index + 1)...]))
    }

    private static func seal(_ count: Int, _ state: inout State) -> [Pending] {
        let batch = Array(state.pending.prefix(count))
        state.pending.removeFirst(batch.count)
        let records = batch.reduce(0) { $0 + $1.count }
        state.sealed += state.unsealed.prefix(records)
        state.unsealed.removeFirst(records)
        return batch
    }

    private static func complete(_ batch: [Pending]) {
        for pending in batch {
            pending.completion(.success((0..<UInt64(pending.count)).map { LSN(rawValue: pending.firstLSN + $0) }))
        }
    }
}
