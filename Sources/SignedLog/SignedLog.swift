import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The recovery log, open for appending: the coordinator's durable memory and audit trail.
///
/// ```swift
/// let log = try await SignedLog.open(directory: "/var/lib/settle/log", signingKey: key)
/// let lsn = try await log.append(LogEntry(type: commitType, payload: decision))  // sealed and on disk
/// ```
public final class SignedLog: Sendable {
    /// The directory, or the PostgreSQL location with its password hidden: for messages.
    public var directory: String { location.description }
    private let location: LogLocation
    /// The key that seals appends now (it changes at `rotateKey`).
    public var verifyingKey: VerifyingKey { state.withLock { $0.current } }
    /// Every key its seals may carry: the current one, those it was opened with, and each it
    /// rotated to since.
    public var trustedKeys: LogKeys { state.withLock { $0.trusted } }
    /// What opening found: the last sealed LSN, the last checkpoint, a torn tail moved aside.
    public let openReport: LogOpenReport
    private let writer: GroupCommitWriter
    private let lockDescriptor: Int32?
    private let isClosed = Mutex(false)
    private let state: Mutex<(current: VerifyingKey, trusted: LogKeys)>

    private init(
        location: LogLocation, keys: LogKeys, current: VerifyingKey, openReport: LogOpenReport, writer: GroupCommitWriter, lockDescriptor: Int32?
    ) {
        self.location = location
        self.state = Mutex((current, keys))
        self.openReport = openReport
        self.writer = writer
        self.lockDescriptor = lockDescriptor
    }

    /// Opens (creating if needed) the log in `directory`, locks it against other writers, checks
    /// the last segment and moves any torn tail aside. A sealed record that fails its check
    /// refuses the open with `corrupted`, naming segment, offset and reason.
    ///
    /// - Parameter previousKeys: the public keys the log was signed with before it rotated to
    ///   `signingKey`, needed to read records sealed in their epochs (recovery from a checkpoint
    ///   before the rotation). Opening refuses a log whose key in force is not `signingKey`.
    public static func open(
        directory: String, signingKey: SigningKey, previousKeys: [VerifyingKey] = [],
        configuration: SignedLogConfiguration = .init()
    ) async throws -> SignedLog {
        try await open(location: try LogLocation(directory), signingKey: signingKey, previousKeys: previousKeys, configuration: configuration)
    }

    /// Opens the log at `location`: a directory as above, or PostgreSQL under the lease epoch
    /// that `configuration.leaseEpoch` names.
    public static func open(
        location: LogLocation, signingKey: SigningKey, previousKeys: [VerifyingKey] = [],
        configuration: SignedLogConfiguration = .init()
    ) async throws -> SignedLog {
        let keys = LogKeys([signingKey.verifyingKey] + previousKeys)
        // Its segments must stay readable: reading refuses one above LogFormat.segmentBytesMax.
        guard configuration.segmentBytesTarget <= LogFormat.segmentBytesMax / 2 else {
            throw SignedLogError(.failed, "segmentBytesTarget is at most \(LogFormat.segmentBytesMax / 2) bytes")
        }
        return try await onDedicatedThread(named: "settle-log-open") {
            try SignedLogError.wrapping {
                let (recovered, lockDescriptor) = try recover(location, keys: keys, signingKey: signingKey, configuration: configuration)
                let writer = GroupCommitWriter(recovered: recovered, signingKey: signingKey, configuration: configuration)
                return SignedLog(
                    location: location, keys: keys, current: signingKey.verifyingKey, openReport: recovered.report,
                    writer: writer, lockDescriptor: lockDescriptor
                )
            }
        }
    }

    /// Opens the storage: a directory under its lock (returned, to hold while open), or
    /// PostgreSQL under the configured lease's epoch (no descriptor: the lease is the lock).
    private static func recover(
        _ location: LogLocation, keys: LogKeys, signingKey: SigningKey, configuration: SignedLogConfiguration
    ) throws -> (RecoveredLog, lockDescriptor: Int32?) {
        switch location {
        case .directory(let path):
            try createDirectoryIfMissing(path)
            let segments = SegmentDirectory(path: path)
            let lockDescriptor = try segments.lock()
            do {
                let recovered = try LogRecovery(
                    directory: segments, keys: keys, signingKeyID: signingKey.verifyingKey.keyID,
                    nowNanoseconds: configuration.nowNanoseconds
                ).recover(configuration: configuration)
                return (recovered, lockDescriptor)
            } catch {
                closeDescriptor(lockDescriptor)
                throw error
            }
        case .postgres(let connection, let logName):
            guard let logName, let epoch = configuration.leaseEpoch else {
                throw SignedLogError(
                    .deposed, "a PostgreSQL log is opened with its coordinator id after # in the location and under a lease's epoch"
                )
            }
            let recovery = PostgresLogRecovery(
                connection: connection, logName: logName, epoch: epoch, keys: keys, signingKeyID: signingKey.verifyingKey.keyID,
                configuration: configuration
            )
            return (try recovery.recover(), nil)
        }
    }

    /// Appends `entry` and returns its LSN once the batch holding it is sealed and fsynced.
    ///
    /// Not cancellable on purpose: once handed over, the record may be written, and a caller that
    /// stopped waiting could not know whether its decision is durable.
    public func append(_ entry: LogEntry) async throws -> LSN {
        try await append(contentsOf: [entry])[0]
    }

    /// Appends `entries` under one seal (all durable together, or none acknowledged) and returns
    /// their LSNs in order.
    public func append(contentsOf entries: [LogEntry]) async throws -> [LSN] {
        try await withCheckedThrowingContinuation { continuation in
            writer.enqueue(entries) { continuation.resume(with: $0) }
        }
    }

    /// Appends any record, a KEY ROTATION included: tests forge rotations with it.
    func appendUnchecked(_ entries: [LogEntry]) async throws -> [LSN] {
        try await withCheckedThrowingContinuation { continuation in
            writer.enqueue(entries, allowingLogRecords: true) { continuation.resume(with: $0) }
        }
    }

    /// Rotates the log to `newKey` without starting a new log: appends a KEY ROTATION record
    /// signed by the current key and by `newKey`, sealed by the current key; every later seal
    /// is made by `newKey`. Returns the rotation record's LSN once it is sealed and durable.
    public func rotateKey(to newKey: SigningKey) async throws -> LSN {
        // Trusted before the rotation is written: a reader may meet the new key's seals at once.
        state.withLock { $0.trusted = LogKeys($0.trusted.keys + [newKey.verifyingKey]) }
        let lsns: [LSN] = try await withCheckedThrowingContinuation { continuation in
            // The writer refuses a rotation to the key already in force or already pending.
            writer.enqueueRotation(to: newKey) { result in
                if case .success = result { self.state.withLock { $0.current = newKey.verifyingKey } }
                continuation.resume(with: result)
            }
        }
        return lsns[0]
    }

    /// Enqueues `entries` at once and calls `completion` (on the log's writer thread; keep it
    /// short) when they are sealed and durable. Entries enqueued earlier always get lower LSNs,
    /// so a caller holding its own lock around this call knows the log order of its records.
    /// Returns the LSN the first entry will have once written (nil when refused at once, and then
    /// `completion` has already been called with the refusal).
    @discardableResult
    public func enqueue(_ entries: [LogEntry], completion: @escaping @Sendable (Result<[LSN], any Error>) -> Void) -> LSN? {
        writer.enqueue(entries, completion: completion)
    }

    /// Appends a checkpoint; recovery then reads only from the last sealed checkpoint onward.
    public func appendCheckpoint(_ checkpoint: Checkpoint) async throws -> LSN {
        try await append(LogEntry(type: .checkpoint, payload: checkpoint.encoded()))
    }

    /// The newest durable seal (from format version 2, a signed tree head); nil until one is
    /// known since the log was opened.
    public var latestSeal: LogSeal? { writer.lastSeal }

    /// The LSN of the last sealed, durable record (`.none` for an empty log).
    public var lastSealedLSN: LSN { writer.sealedPosition.lastLSN }

    /// A reader of this log, checking seals against `keys` (nil: not their signatures). It
    /// connects with the log's real location: `directory` hides a PostgreSQL password.
    public func reader(keys: LogKeys?) -> LogReader {
        LogReader(directory: location.text, keys: keys)
    }

    /// Reads sealed records with LSN ≥ `lsn`, checking CRCs, chain and seals as it goes.
    public func records(from lsn: LSN) async throws -> [LogRecord] {
        let reader = reader(keys: trustedKeys)
        return try await onDedicatedThread(named: "settle-log-read") {
            var records: [LogRecord] = []
            try reader.forEachRecord(from: lsn) { records.append($0) }
            return records
        }
    }

    /// What recovery needs: the last sealed checkpoint (if any) and every sealed record after it.
    public func recoveryRecords() async throws -> (checkpoint: Checkpoint?, records: [LogRecord]) {
        let checkpointLSN = writer.sealedPosition.lastCheckpoint
        guard checkpointLSN != .none else { return (nil, try await records(from: .first)) }
        let records = try await records(from: checkpointLSN)
        guard let first = records.first, first.lsn == checkpointLSN, first.type == .checkpoint,
            case .success(let checkpoint) = Checkpoint.decode(first.payload)
        else {
            throw SignedLogError(.corrupted, "the checkpoint at LSN \(checkpointLSN) cannot be read back")
        }
        return (checkpoint, Array(records.dropFirst()))
    }

    /// Seals and writes what is queued, then releases the directory lock.
    public func close() async {
        let firstClose = isClosed.withLock { closed in
            defer { closed = true }
            return !closed
        }
        guard firstClose else { return }
        let writer = self.writer
        let lockDescriptor = self.lockDescriptor
        _ = try? await onDedicatedThread(named: "settle-log-close") {
            writer.closeAndWait()
            if let lockDescriptor { closeDescriptor(lockDescriptor) }
        }
    }
}

private func createDirectoryIfMissing(_ path: String) throws {
    if mkdir(path, 0o750) != 0 && errno != EEXIST { throw FileSystemError("mkdir", path: path) }
}

private func closeDescriptor(_ descriptor: Int32) { close(descriptor) }
