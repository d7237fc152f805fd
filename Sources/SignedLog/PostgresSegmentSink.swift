#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
import PostgresClient

/// Appends a log's batches to PostgreSQL: each batch is one row, inserted in one transaction
/// that also checks the coordinator's lease still has this writer's epoch. A coordinator whose
/// lease another took (a higher epoch) therefore seals nothing more, however late it wakes; the
/// `FOR SHARE` lock makes a takeover's epoch bump wait for a batch already being committed, so
/// the new holder reads the log only after it, never beside it.
///
/// Durability is the database's: with synchronous replication a sealed batch survives the loss
/// of the primary (README, "Running Settle with failover").
final class PostgresSegmentSink: SegmentSink {
    private(set) var segmentNumber: UInt64
    private(set) var segmentByteCount: Int
    private let session: BlockingPostgresSession
    private let logName: String
    private let epoch: Int64
    private let configuration: SignedLogConfiguration
    /// Opening reads the last segment whole and checks every seal's signature in it (~0.1 ms
    /// each), and with PostgreSQL opening is a standby's takeover: segments stay small so a
    /// takeover does not grow with the log (tools/chaos --failover, 10,000 transfers in one
    /// segment: takeover p50 2.7 s, max 6.3 s; in 4 MiB segments 1.4 s and 2.2 s).
    static let segmentBytesMax = 4 << 20
    var segmentBytesTarget: Int { min(configuration.segmentBytesTarget, Self.segmentBytesMax) }

    init(
        session: BlockingPostgresSession, logName: String, epoch: UInt32, segmentNumber: UInt64, byteCount: Int,
        configuration: SignedLogConfiguration
    ) {
        self.session = session
        self.logName = logName
        self.epoch = Int64(epoch)
        self.segmentNumber = segmentNumber
        self.segmentByteCount = byteCount
        self.configuration = configuration
    }

    static let insertBatch = """
        INSERT INTO settle_log_batches (log_name, seal_number, segment_number, first_lsn, last_lsn, epoch, frames)
        SELECT $1, $2, $3, $4, $5, $6, $7 FROM settle_coordinator_leases
        WHERE coordinator_id = $1 AND epoch = $6 FOR SHARE
        """

    static let insertSegment = """
        INSERT INTO settle_log_segments (log_name, segment_number, header)
        SELECT $1, $2, $3 FROM settle_coordinator_leases WHERE coordinator_id = $1 AND epoch = $4 FOR SHARE
        """

    func writeBatch(_ frames: [UInt8], seal: LogSeal, firstLSN: LSN, recordCount: Int) throws {
        let parameters: PostgresParameters = [
            logName, Int64(seal.number), Int64(segmentNumber), Int64(firstLSN.rawValue), Int64(seal.lastLSN.rawValue), epoch, frames,
        ]
        if configuration.faultInjectionTearBatch?(recordCount, frames.count) != nil {
            // A crash between the INSERT and its COMMIT: the database must roll the batch back.
            _ = try? session.query("BEGIN")
            _ = try? session.query(Self.insertBatch, parameters)
            kill(getpid(), SIGKILL)
        }
        let inserted = try PostgresSegmentSource.database { try session.query(Self.insertBatch, parameters) }
        try checkInserted(inserted, what: "seal \(seal.number)")
        segmentByteCount += frames.count
    }

    /// Nothing to discard: a batch whose transaction failed was rolled back whole.
    func discardUnsynced() {}

    func beginSegment(_ header: SegmentHeader) throws {
        let inserted = try PostgresSegmentSource.database {
            try session.query(Self.insertSegment, [logName, Int64(header.segmentNumber), header.encoded(), epoch])
        }
        try checkInserted(inserted, what: "segment \(header.segmentNumber)")
        segmentNumber = header.segmentNumber
        segmentByteCount = header.byteCount
    }

    func close() { session.close() }

    private func checkInserted(_ rows: PostgresRows, what: String) throws {
        guard rows.commandTag != "INSERT 0 1" else { return }
        throw SignedLogError(
            .deposed,
            "coordinator \(logName) no longer holds its lease at epoch \(epoch): another took it, so \(what) was not sealed"
        )
    }
}
