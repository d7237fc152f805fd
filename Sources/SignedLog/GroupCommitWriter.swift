import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The log's single writer thread and the queue in front of it.
///
/// Group commit: the thread takes every record that has arrived (up to the batch bounds), writes
/// them and one seal in one `pwrite`, `fdatasync`s once, and only then resumes the batch's
/// waiters. A caller's `await` therefore returns only once its record is sealed and durable, and
/// the cost of a signature and an fsync is shared by everyone who arrived meanwhile.
///
/// A dedicated thread, not a task: `pwrite` and `fdatasync` block for milliseconds and must never
/// hold one of Swift concurrency's cooperative threads.
final class GroupCommitWriter: @unchecked Sendable {
    /// One caller's entries: always written together under one seal.
    private struct Waiter {
        let entries: [LogEntry]
        /// Given at enqueue; the writer checks it got the same.
        var firstLSN = LSN.none
        let payloadByteCount: Int
        /// Set for a key rotation: its one entry's payload is made when its LSN is known.
        var rotatingTo: SigningKey?
        let completion: @Sendable (Result<[LSN], any Error>) -> Void
    }

    private enum Phase {
        case running
        case closing
        case closed
        case failed(SignedLogError)
    }

    // Guarded by `condition`.
    private let condition = NSCondition()
    private var queue: [Waiter] = []
    private var queuedEntryCount = 0
    private var phase = Phase.running
    private var published: ChainPosition
    /// The last durable seal: a signed tree head to publish. Nil until one is known.
    private var publishedSeal: LogSeal?
    /// The last LSN handed out by `enqueue`: records are written in enqueue order, and a failed
    /// write stops the writer for good, so every accepted record gets the LSN it was promised.
    private var assignedLSN: LSN
    /// The key that will seal the next batch enqueued: the current key, or the last rotation's.
    /// Rotations are checked against it at enqueue, so two cannot rotate to the same key.
    private var nextSigningKeyID: KeyID

    // Owned by the writer thread once it starts.
    private var position: ChainPosition
    private let sink: any SegmentSink
    private var signingKey: SigningKey
    private let configuration: SignedLogConfiguration
    private let finished = DispatchSemaphore(value: 0)

    init(recovered: RecoveredLog, signingKey: SigningKey, configuration: SignedLogConfiguration) {
        self.position = recovered.position
        self.published = recovered.position
        self.publishedSeal = recovered.lastSeal
        self.assignedLSN = recovered.position.lastLSN
        self.nextSigningKeyID = signingKey.verifyingKey.keyID
        self.sink = recovered.sink
        self.signingKey = signingKey
        self.configuration = configuration
        let thread = Thread { [self] in self.run() }
        thread.name = "settle-log-writer"
        thread.start()
    }

    /// The last durable seal, if any is known since the log was opened.
    var lastSeal: LogSeal? {
        condition.lock()
        defer { condition.unlock() }
        return publishedSeal
    }

    /// The chain as of the last durable seal.
    var sealedPosition: ChainPosition {
        condition.lock()
        defer { condition.unlock() }
        return published
    }

    /// Queues `entries` to be written together under one seal; `completion` is called (on the
    /// writer thread) with their LSNs once sealed and durable, or with the error that kept them
    /// from being written. Entries enqueued earlier get lower LSNs. Returns the LSN the first
    /// entry will have if it is ever written (nil when refused at once).
    /// - Parameter allowingLogRecords: KEY ROTATION records come only from `enqueueRotation`,
    ///   which signs them; a test that forges one says so here.
    @discardableResult
    func enqueue(
        _ entries: [LogEntry], allowingLogRecords: Bool = false,
        completion: @escaping @Sendable (Result<[LSN], any Error>) -> Void
    ) -> LSN? {
        if !allowingLogRecords, entries.contains(where: { $0.type == .keyRotation }) {
            completion(.failure(SignedLogError(.key, "a key rotation is appended by rotateKey(to:), which signs it with both keys")))
            return nil
        }
        if let refusal = refusalOfSize(entries) {
            completion(.failure(refusal))
            return nil
        }
        return enqueue(
            Waiter(entries: entries, payloadByteCount: entries.reduce(0) { $0 + $1.payload.count }, completion: completion)
        )
    }

    /// Queues a KEY ROTATION record to `newKey`, sealed alone by the current key; every later
    /// batch is sealed by `newKey`, in a new segment.
    func enqueueRotation(to newKey: SigningKey, completion: @escaping @Sendable (Result<[LSN], any Error>) -> Void) {
        let placeholder = LogEntry(type: .keyRotation, payload: [])
        let alreadyInForce = condition.withLock {
            guard nextSigningKeyID != newKey.verifyingKey.keyID else { return true }
            nextSigningKeyID = newKey.verifyingKey.keyID
            return false
        }
        if alreadyInForce {
            completion(.failure(SignedLogError(.key, "the log is already signed by key id \(newKey.verifyingKey.keyID)")))
            return
        }
        enqueue(
            Waiter(
                entries: [placeholder], payloadByteCount: KeyRotation.payloadByteCount, rotatingTo: newKey,
                completion: completion
            )
        )
    }

    @discardableResult
    private func enqueue(_ waiter: Waiter) -> LSN? {
        var waiter = waiter
        let entries = waiter.entries
        let completion = waiter.completion
        var first: LSN?
        condition.lock()
        let refusal: SignedLogError?
        switch phase {
        case .running where queuedEntryCount + entries.count > configuration.queuedRecordsMax:
            refusal = SignedLogError(.queueFull, "\(queuedEntryCount) records already wait for the log writer")
        case .running:
            waiter.firstLSN = assignedLSN.next
            first = waiter.firstLSN
            assignedLSN = LSN(rawValue: assignedLSN.rawValue + UInt64(entries.count))
            queue.append(waiter)
            queuedEntryCount += entries.count
            condition.signal()
            refusal = nil
        case .closing, .closed:
            refusal = SignedLogError(.closed, "the log is closed")
        case .failed(let error):
            refusal = error
        }
        condition.unlock()
        if let refusal { completion(.failure(refusal)) }
        return first
    }

    private func refusalOfSize(_ entries: [LogEntry]) -> SignedLogError? {
        if entries.isEmpty { return SignedLogError(.recordTooLarge, "nothing to append") }
        if entries.count > configuration.batchRecordsMax {
            return SignedLogError(
                .recordTooLarge, "\(entries.count) entries cannot share one seal; the limit is \(configuration.batchRecordsMax)"
            )
        }
        if let large = entries.first(where: { $0.payload.count > configuration.recordPayloadBytesMax }) {
            return SignedLogError(
                .recordTooLarge,
                "a record payload of \(large.payload.count) bytes exceeds \(configuration.recordPayloadBytesMax)"
            )
        }
        return nil
    }

    /// Writes what is queued, stops the thread and closes the segment. Blocks; call off the
    /// cooperative pool.
    func closeAndWait() {
        condition.lock()
        if case .running = phase { phase = .closing }
        condition.signal()
        condition.unlock()
        finished.wait()
        finished.signal()  // later callers return at once
    }

    private func run() {
        while let batch = nextBatch() {
            let rotation = batch.last?.rotatingTo
            do {
                var lsns = try write(batch.flatMap(\.entries), rotatingTo: rotation)[...]
                guard lsns.first == batch.first?.firstLSN else {
                    throw SignedLogError(
                        .failed, "the writer wrote LSN \(lsns.first ?? .none), not the \(batch.first?.firstLSN ?? .none) it promised")
                }
                for waiter in batch {
                    waiter.completion(.success(Array(lsns.prefix(waiter.entries.count))))
                    lsns = lsns.dropFirst(waiter.entries.count)
                }
            } catch {
                let failure = Self.stopped(by: error)
                sink.discardUnsynced()
                for waiter in batch { waiter.completion(.failure(failure)) }
                fail(with: failure)
                continue
            }
            // After the waiters are told: their records are durable whether or not a new
            // segment can be begun, and a failure here stops only what comes next.
            do {
                // A new key's epoch begins in a segment of its own: opening the log then finds the
                // key in force in the last segment's seals, without reading back across the rotation.
                if rotation != nil || sink.segmentByteCount >= sink.segmentBytesTarget { try rollSegment() }
            } catch {
                fail(with: Self.stopped(by: error))
            }
        }
        sink.close()
        finished.signal()
    }

    private static func stopped(by error: any Error) -> SignedLogError {
        // A deposed writer keeps its code: its daemon must stop, not merely report a failing log.
        let code = (error as? SignedLogError)?.code == .deposed ? SignedLogError.Code.deposed : .failed
        return SignedLogError(code, "the log writer failed and accepts nothing until the log is reopened: \(error)")
    }

    /// Blocks until records wait (returning a batch within the bounds) or the log closes (nil).
    private func nextBatch() -> [Waiter]? {
        condition.lock()
        defer { condition.unlock() }
        while queue.isEmpty {
            switch phase {
            case .running: condition.wait()
            case .failed: return nil
            case .closing, .closed:
                phase = .closed
                return nil
            }
        }
        var count = 0
        var entries = 0
        var bytes = 0
        while count < queue.count {
            let waiter = queue[count]
            // A rotation is sealed alone, by the old key, so that no batch mixes two keys' epochs.
            if count > 0 && waiter.rotatingTo != nil { break }
            let fits =
                entries + waiter.entries.count <= configuration.batchRecordsMax
                && bytes + waiter.payloadByteCount <= configuration.batchBytesMax
            if count > 0 && !fits { break }
            entries += waiter.entries.count
            bytes += waiter.payloadByteCount
            count += 1
            if waiter.rotatingTo != nil { break }
        }
        let batch = Array(queue[..<count])
        queue.removeFirst(count)
        queuedEntryCount -= entries
        return batch
    }

    private func fail(with failure: SignedLogError) {
        condition.lock()
        phase = .failed(failure)
        let abandoned = queue
        queue.removeAll()
        queuedEntryCount = 0
        condition.unlock()
        for waiter in abandoned { waiter.completion(.failure(failure)) }
    }

    /// Encodes, seals, writes and syncs one batch; returns the LSNs in order.
    private func write(_ entries: [LogEntry], rotatingTo newKey: SigningKey?) throws -> [LSN] {
        let started = ContinuousClock.now
        var frames: [UInt8] = []
        frames.reserveCapacity(entries.reduce(0) { $0 + $1.payload.count + 64 } + 200)
        var next = position
        var lsns: [LSN] = []
        lsns.reserveCapacity(entries.count)
        var checkpoint: LSN?
        let now = configuration.nowNanoseconds()
        for var entry in entries {
            let lsn = next.lastLSN.next
            if let newKey, entry.type == .keyRotation {
                entry.payload = try KeyRotation.signed(lsn: lsn, previousChainHash: next.chainHash, from: signingKey, to: newKey).encoded
            }
            let (record, leaf) = FrameCodec.encodeRecord(
                lsn: lsn, entry: entry, appendedAtNanoseconds: now, previousChainHash: next.chainHash,
                into: &frames
            )
            next.lastLSN = lsn
            next.chainHash = record.chainHash
            next.tree?.append(leaf: leaf)
            if entry.type == .checkpoint { checkpoint = lsn }
            lsns.append(lsn)
        }
        // Recovery always hands the writer a position with its tree (upgrading a version 1 log
        // first), so every seal it writes is a signed tree head.
        guard let tree = next.tree else { throw SignedLogError(.failed, "the writer has no Merkle tree to seal") }
        let unsigned = LogSeal(
            number: next.sealNumber + 1, lastLSN: next.lastLSN, chainHash: next.chainHash, treeRoot: tree.root,
            sealedAtNanoseconds: now, keyID: signingKey.verifyingKey.keyID, signature: []
        )
        let seal = unsigned.signed(try signingKey.sign(unsigned.signedMessage))
        FrameCodec.encodeSeal(seal, into: &frames)
        next.sealNumber = seal.number
        if let checkpoint { next.lastCheckpoint = checkpoint }

        try sink.writeBatch(frames, seal: seal, firstLSN: lsns[0], recordCount: entries.count)
        position = next
        condition.lock()
        published = next
        publishedSeal = seal
        condition.unlock()

        configuration.onBatchSealed?(entries.count, ContinuousClock.now - started)
        if let newKey { signingKey = newKey }
        return lsns
    }

    /// Begins the next segment right after a seal, as the format requires.
    private func rollSegment() throws {
        try sink.beginSegment(position.header(segmentNumber: sink.segmentNumber + 1, createdAtNanoseconds: configuration.nowNanoseconds()))
    }
}
