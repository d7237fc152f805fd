import NIOPosix
import SettleCore
import SignedLog
import Synchronization

/// One transfer's sealed records read back from the recovery log, each with its seal checked:
/// the same facts `settle audit show` prints. Reading runs on NIO's blocking-I/O thread pool,
/// never on a cooperative thread.
struct TransferTimeline: Sendable {
    struct Entry: Sendable {
        let lsn: UInt64
        let type: String
        let appendedAtNanoseconds: Int64
        let sealNumber: UInt64
        let sealedAtNanoseconds: Int64
        /// The seal's signature verifies with one of the log's keys; the chain up to it and every
        /// frame's checksum are checked by the reader, or it throws.
        let sealVerifies: Bool
        /// The record's payload as sealed (JSON).
        let payload: String
    }

    let entries: [Entry]

    /// Reads from the transfer's ACCEPTED record until a record that ends it for good (END,
    /// COMPENSATED, MANUAL), its last record (`throughLSN`), or the end of the log. Without the
    /// bound a stuck transfer's page read, and checked, everything sealed after it, each time.
    ///
    /// - Parameter reader: reads without checking signatures; `keys` checks those of the seals
    ///   that cover the transfer's records.
    static func read(
        transferID: String, fromLSN: UInt64, throughLSN: UInt64?, reader: LogReader, keys: LogKeys
    ) async throws -> TransferTimeline {
        let throughLSN = throughLSN ?? .max
        return try await NIOThreadPool.singleton.runIfActive {
            var entries: [Entry] = []
            do {
                // Signatures are checked below, for the seals that matter here only: checking
                // every seal of a segment would cost a verification per batch of unrelated records.
                try reader.forEachBatch(near: LSN(rawValue: fromLSN)) { records, seal in
                    var ended = false
                    for record in records where record.lsn.rawValue >= fromLSN && record.lsn.rawValue <= throughLSN {
                        guard let type = CoordinatorRecordType(rawValue: record.type.rawValue),
                            CoordinatorPayload.transferID(in: record.payload) == transferID
                        else { continue }
                        let verifies = keys.key(for: seal.keyID)?.isValidSignature(seal.signature, for: seal.signedMessage) ?? false
                        entries.append(
                            Entry(
                                lsn: record.lsn.rawValue, type: type.name, appendedAtNanoseconds: record.appendedAtNanoseconds,
                                sealNumber: seal.number, sealedAtNanoseconds: seal.sealedAtNanoseconds, sealVerifies: verifies,
                                payload: String(decoding: record.payload, as: UTF8.self)
                            )
                        )
                        ended = ended || [.end, .compensated, .manual].contains(type)
                    }
                    if ended || seal.lastLSN.rawValue >= throughLSN { throw LogReader.StopReading() }
                }
            } catch is LogReader.StopReading {}
            return TransferTimeline(entries: entries)
        }
    }
}

/// Reading the log is refused while another reader or two are at it; the page says so.
struct TimelineBusy: Error, CustomStringConvertible {
    var description: String { "other timelines are being read from the log right now; reload in a moment" }
}

/// At most `limit` holders at once, without waiting: `enter` says whether there was room.
final class ConcurrencyGate: Sendable {
    private let holders = Atomic<Int>(0)
    let limit: Int

    init(limit: Int) { self.limit = limit }

    func enter() -> Bool {
        guard holders.wrappingAdd(1, ordering: .acquiring).newValue <= limit else {
            holders.wrappingSubtract(1, ordering: .releasing)
            return false
        }
        return true
    }

    func leave() { holders.wrappingSubtract(1, ordering: .releasing) }
}
