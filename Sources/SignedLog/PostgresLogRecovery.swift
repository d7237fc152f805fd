import PostgresClient

/// Opens a log kept in PostgreSQL for appending, under a lease already taken at `epoch`.
///
/// Simpler than the files' recovery: a batch's transaction commits whole or not at all, so there
/// is never a torn tail to move aside, and any defect in the last segment is corruption.
struct PostgresLogRecovery {
    let connection: String
    let logName: String
    let epoch: UInt32
    let keys: LogKeys
    let signingKeyID: KeyID
    let configuration: SignedLogConfiguration

    func recover() throws -> RecoveredLog {
        let session = try PostgresSegmentSource.connect(to: connection)
        do {
            try PostgresSegmentSource.database { try PostgresLogSchema.create(in: session) }
            try checkLease(session)
            let source = PostgresSegmentSource(session: session, logName: logName, connection: connection)
            var numbers = try source.segmentNumbers()
            let sink = PostgresSegmentSink(
                session: session, logName: logName, epoch: epoch, segmentNumber: 0, byteCount: 0, configuration: configuration
            )
            if numbers.isEmpty {
                try sink.beginSegment(ChainPosition.genesis.header(segmentNumber: 0, createdAtNanoseconds: configuration.nowNanoseconds()))
                numbers = [0]
            }
            return try recover(lastSegment: numbers[numbers.count - 1], segmentCount: numbers.count, source: source, session: session)
        } catch {
            session.close()
            throw error
        }
    }

    private func recover(
        lastSegment number: UInt64, segmentCount: Int, source: PostgresSegmentSource, session: BlockingPostgresSession
    )
        throws -> RecoveredLog
    {
        let name = SegmentDirectory.segmentName(number)
        let bytes = try source.readSegment(number)
        let header = try source.checkedHeader(bytes, number: number)
        guard header.formatVersion >= 2 else {
            throw SignedLogError.corrupted(segment: name, offset: 0, "a PostgreSQL log is written in format version 2 or later")
        }
        try source.checkContinues(header, number: number, keys: keys)
        var lastSeal: LogSeal?
        let scan = SegmentScanner(keys: keys).scan(bytes, header: header) { _, seal, _ in lastSeal = seal }
        switch scan.stop {
        case .cleanEnd: break
        case .unsealedRecords(let count):
            throw SignedLogError.corrupted(segment: name, offset: scan.sealedEndOffset, "\(count) records after the last seal")
        case .defect(let offset, let reason, _):
            throw SignedLogError.corrupted(segment: name, offset: offset, reason)
        }
        try LogRecovery.checkKeyInForce(scan.sealed.keyInForce, lastSegment: number, source: source, signingKeyID: signingKeyID)
        let sink = PostgresSegmentSink(
            session: session, logName: logName, epoch: epoch, segmentNumber: number, byteCount: bytes.count, configuration: configuration
        )
        let report = LogOpenReport(
            segmentCount: segmentCount, lastSealedLSN: scan.sealed.lastLSN,
            lastCheckpointLSN: scan.sealed.lastCheckpoint == .none ? nil : scan.sealed.lastCheckpoint,
            tornTailFile: nil, tornTailByteCount: 0, upgradedFromVersion1: false
        )
        return RecoveredLog(sink: sink, position: scan.sealed, report: report, lastSeal: lastSeal)
    }

    /// Refuses to open under an epoch that is no longer the lease's: a takeover happened since.
    private func checkLease(_ session: BlockingPostgresSession) throws {
        let rows = try PostgresSegmentSource.database {
            try session.query(
                "SELECT epoch, pg_is_in_recovery() AS standby FROM settle_coordinator_leases WHERE coordinator_id = $1", [logName]
            )
        }
        // A read-only standby would show a log behind the primary's: refuse it, whatever the URL says.
        if let row = rows.first, try PostgresSegmentSource.database({ try row.decode(Bool.self, column: "standby") }) {
            throw SignedLogError(
                .database, "the log's database is a standby (in recovery); give the primary, or add target_session_attrs=read-write"
            )
        }
        let current = try rows.first.map { row in try PostgresSegmentSource.database { try row.decode(Int64.self, column: "epoch") } }
        guard current == Int64(epoch) else {
            throw SignedLogError(
                .deposed,
                "coordinator \(logName)'s lease is at epoch \(current.map(String.init) ?? "none"), not \(epoch): take the lease before opening its log"
            )
        }
    }
}
