import Logging
import PostgresClient
import SettleCore

/// The participant's side of the protocol against its own database: each operation idempotent
/// and safe in any order, as protocol/settle/v1/participant.proto specifies.
struct BranchOperations: Sendable {
    /// For Prepare and Compensate: the service's own pool.
    let pool: PostgresPool
    /// For Commit, Rollback and reports, which never wait on row locks (see
    /// `ParticipantConfiguration.phaseTwoConnectionsMax`).
    let phaseTwoPool: PostgresPool
    let configuration: ParticipantConfiguration
    let inFlightPrepares = PrepareCancellation()
    let preparedWork = PreparedWork()
    let runningPrepares = RunningPrepares()
    let coordinatorEpochs = CoordinatorEpochs()
    let commitOrders: CommitOrderRecorder

    init(pool: PostgresPool, phaseTwoPool: PostgresPool, configuration: ParticipantConfiguration) {
        self.pool = pool
        self.phaseTwoPool = phaseTwoPool
        self.configuration = configuration
        self.commitOrders = CommitOrderRecorder(
            pool: phaseTwoPool, lockTimeout: configuration.barrierLockTimeout, statementTimeout: configuration.statementTimeout
        )
    }

    // MARK: Prepare

    /// - Parameter workIsSigned: the request carried the coordinator's verified order for this
    ///   gid and this work. Every Prepare of a gid needs one, and the coordinator signs one work
    ///   per gid, so a gid found prepared holds this work even when this process cannot see it.
    /// - Parameter senderEpoch: the lease epoch the coordinator says it acts under (its
    ///   `settle-coordinator-epoch` header); nil: the gid's own epoch.
    func prepare(
        gid: String, digest: WorkDigest, workIsSigned: Bool, senderEpoch: UInt32? = nil, work: @escaping HandlerRegistry.BoundWork
    ) async throws -> PrepareOutcome {
        try await inFlightPrepares.run(gid: gid) { [self] in
            try await retryingConflicts(operation: "prepare", gid: gid, retriesMax: configuration.conflictRetriesMax) {
                try await pool.withConnection { connection in
                    try await runningPrepares.run(gid: gid, backend: connection.backendProcessID) {
                        // Three round trips at least (barrier, action, PREPARE): on the connection's
                        // thread they cost no hand-offs between them.
                        try await connection.withConnectionThread {
                            try await prepareOnce(
                                connection, gid: gid, digest: digest, workIsSigned: workIsSigned, senderEpoch: senderEpoch,
                                work: work
                            )
                        }
                    }
                }
            }
        }
    }

    private func prepareOnce(
        _ connection: PostgresConnection, gid: String, digest: WorkDigest, workIsSigned: Bool, senderEpoch: UInt32?,
        work: HandlerRegistry.BoundWork
    ) async throws -> PrepareOutcome {
        // A gid this process prepared answers from memory: claiming it would wait on the
        // prepared transaction's barrier row.
        if preparedWork.compare(gid, digest) != .unknown {
            return try await duplicatePrepare(connection, gid: gid, digest: digest, workIsSigned: workIsSigned)
        }
        let parsed: BranchGID
        do {
            parsed = try BranchGID(parsing: gid)
        } catch {
            throw ParticipantError(.invalidArgument, "gid: \(error.message)")
        }
        // The sender's epoch, not the gid's: a successor re-drives its predecessor's gids.
        let sender = CoordinatorEpochs.Sender(coordinatorID: parsed.coordinatorID, epoch: senderEpoch ?? parsed.admission.epoch)
        try await coordinatorEpochs.admit(sender, gid: gid, on: connection)
        let claimed: Bool
        do {
            let results = try await begin(
                connection,
                then: [
                    PostgresStatement(CoordinatorEpochs.highest, [parsed.coordinatorID]),
                    PostgresStatement(BarrierSQL.claimAction, [gid, digest.bytes, Int64(sender.epoch)]),
                    BarrierSQL.setLocalLockTimeout(configuration.actionLockTimeout),
                ]
            )
            do {
                try CoordinatorEpochs.refuseIfStale(sender, gid: gid, highest: try results[0][0].decode(Int64.self, column: "epoch"))
            } catch {
                await connection.rollbackIgnoringCancellation()
                throw error
            }
            claimed = results[1].count == 1
        } catch let error as PostgresError where error.code == .lockNotAvailable {
            // Another transaction holds the gid's barrier row: one prepared before this process
            // started, or a Prepare of the same gid still running elsewhere. `begin` rolled back;
            // the barrier's state, read without waiting, says which.
            claimed = false
        }
        guard claimed else {
            await connection.rollbackIgnoringCancellation()
            return try await duplicatePrepare(connection, gid: gid, digest: digest, workIsSigned: workIsSigned)
        }
        do {
            try await work(ParticipantTransaction(connection: connection, gid: gid))
        } catch let refusal as Refusal {
            await connection.rollbackIgnoringCancellation()
            return .refused(reason: refusal.boundedReason)
        } catch {
            await connection.rollbackIgnoringCancellation()
            throw Self.failure(error, doing: "action", gid: gid, lockTimeout: configuration.actionLockTimeout)
        }
        // Recorded before PREPARE: a duplicate that races the answer must find it.
        preparedWork.record(gid, digest)
        do {
            try await connection.prepareTransaction(gid: gid)
        } catch {
            preparedWork.forget(gid)
            await connection.rollbackIgnoringCancellation()
            throw error
        }
        return .prepared
    }

    /// A Prepare of a gid whose barrier row exists: the same work answers as the first did; other
    /// work, or work that cannot be compared, is refused without touching anything.
    private func duplicatePrepare(
        _ connection: PostgresConnection, gid: String, digest: WorkDigest, workIsSigned: Bool
    ) async throws -> PrepareOutcome {
        // Before the barrier is read: a Prepare of it here that ends after the read must count.
        let preparingHere = runningPrepares.isRunning(gid, besides: connection.backendProcessID)
        let state = try await barrierState(connection, gid: gid)
        if state.isCancelled { return .cancelled }
        if state.isPrepared {
            switch preparedWork.compare(gid, digest) {
            case .same: return .prepared
            case .different: throw Self.mismatch(gid, "another action or payload")
            case .unknown where workIsSigned:
                // Prepared before this process started, so its work is not in memory; but only the
                // coordinator's order for this gid could have prepared it, and it orders one work
                // per gid. Refusing here made a saga's re-drive after a participant restart look
                // like a refusal, and the saga compensated a debit that was in fact prepared.
                return .prepared
            case .unknown:
                throw ParticipantError(
                    .workMismatch,
                    "\(gid) was prepared before this process started and PostgreSQL hides a prepared transaction's rows, "
                        + "so this Prepare's work cannot be compared with it; nothing was done (roll the branch back, or commit it)"
                )
            }
        }
        guard state.actionRecorded else {
            // Not prepared, committed or cancelled. Unless a Prepare of it still runs here (its
            // transaction not yet prepared, so unseen), what this process remembers was rolled
            // back behind its back: by hand, or by another instance of the service that answered
            // its Commit. Forgotten, the retry claims the gid afresh, as if never prepared.
            if !preparingHere { preparedWork.forget(gid) }
            throw RetryOperation(reason: "the barrier of \(gid) changed while it was read")
        }
        // The action committed earlier: a following Commit answers COMMITTED, if this is its work.
        try await requireSameWork(connection, gid: gid, op: "action", digest: digest)
        return .prepared
    }

    /// Throws unless the committed barrier row carries `digest`; a row without one (written
    /// before schema version 2) is taken as it was before.
    private func requireSameWork(_ connection: PostgresConnection, gid: String, op: String, digest: WorkDigest) async throws {
        let rows = try await connection.query(BarrierSQL.digest, [gid, op])
        guard let row = rows.first, let stored: [UInt8] = try row.decode(column: "digest") else { return }
        guard WorkDigest(storedBytes: stored) == digest else {
            throw Self.mismatch(gid, op == "action" ? "another action or payload" : "another compensation or payload")
        }
    }

    private static func mismatch(_ gid: String, _ what: String) -> ParticipantError {
        ParticipantError(.workMismatch, "\(gid) already stands for \(what); this request was refused and nothing was done")
    }

    // MARK: Commit

    /// `order` is recorded on the action's row before the answer goes back, so every commit the
    /// coordinator saw answered carries its evidence (a crash in between leaves the commit
    /// unanswered, and the coordinator's retry records it).
    func commit(gid: String, order: OrderEvidence?) async throws -> CommitOutcome {
        let outcome = try await retryingConflicts(operation: "commit", gid: gid, retriesMax: configuration.conflictRetriesMax) {
            try await phaseTwoPool.withConnection { connection in
                let outcome: CommitOutcome
                do {
                    try await connection.commitPrepared(gid: gid)
                    preparedWork.forget(gid)
                    outcome = .committed
                } catch let error as PostgresError where error.code == .undefinedObject {
                    let state = try await barrierState(connection, gid: gid)
                    if state.isPrepared { throw RetryOperation(reason: "\(gid) was prepared again meanwhile") }
                    preparedWork.forget(gid)
                    // Cancelled, or never recorded: the prepared work is gone without committing.
                    outcome = state.actionRecorded && !state.isCancelled ? .committed : .heuristicRollback
                }
                return outcome
            }
        }
        // Outside the connection: a commit waiting for its batch holds none of the pool.
        if outcome == .committed, let order {
            try await retryingConflicts(operation: "commit", gid: gid, retriesMax: configuration.conflictRetriesMax) {
                try await commitOrders.record(gid: gid, order: order)
            }
        }
        return outcome
    }

    // MARK: Rollback (cancel)

    func rollback(gid: String, order: OrderEvidence?) async throws -> RollbackOutcome {
        try await retryingConflicts(operation: "rollback", gid: gid, retriesMax: configuration.conflictRetriesMax) {
            // A prepare of this gid still running is stopped, not waited for; asked on every
            // attempt, since the prepare may arrive after the first.
            inFlightPrepares.cancel(gid: gid)
            return try await phaseTwoPool.withConnection { connection in
                try await connection.withConnectionThread { try await rollbackOnce(connection, gid: gid, order: order) }
            }
        }
    }

    private func rollbackOnce(_ connection: PostgresConnection, gid: String, order: OrderEvidence?) async throws -> RollbackOutcome {
        do {
            try await connection.rollbackPrepared(gid: gid)
            preparedWork.forget(gid)
        } catch let error as PostgresError where error.code == .undefinedObject {
            // Not prepared (never, or no longer): the barrier rows below decide.
            preparedWork.forget(gid)
        }
        // A lock timeout here means a Prepare of this gid is running or just prepared;
        // the retry rolls that back first.
        let inserted = try await begin(
            connection,
            then: [
                PostgresStatement(BarrierSQL.insertCancelledIfAbsent, [gid, order?.storedLSN, order?.signature]),
                PostgresStatement(BarrierSQL.insertActionIfAbsent, [gid]),
            ]
        )
        let cancelledNow = inserted[0].count == 1
        let actionSlotTaken = inserted[1].count == 1
        if cancelledNow && !actionSlotTaken {
            // The action row was already there without a cancellation: the branch committed.
            await connection.rollbackIgnoringCancellation()
            return .alreadyCommitted
        }
        try await connection.query("COMMIT")
        return .rolledBack
    }

    // MARK: Compensate

    func compensate(
        gid: String, digest: WorkDigest, work: @escaping HandlerRegistry.BoundWork, order: OrderEvidence?
    ) async throws -> CompensateOutcome {
        try await retryingConflicts(operation: "compensate", gid: gid, retriesMax: configuration.conflictRetriesMax) {
            try await pool.withConnection { connection in
                try await connection.withConnectionThread {
                    try await compensateOnce(connection, gid: gid, digest: digest, work: work, order: order)
                }
            }
        }
    }

    private func compensateOnce(
        _ connection: PostgresConnection, gid: String, digest: WorkDigest, work: HandlerRegistry.BoundWork, order: OrderEvidence?
    ) async throws -> CompensateOutcome {
        let results = try await begin(
            connection,
            then: [
                PostgresStatement(BarrierSQL.state, [gid]),
                PostgresStatement(BarrierSQL.insertCompensationIfAbsent, [gid, digest.bytes, order?.storedLSN, order?.signature]),
            ]
        )
        let state = try Self.decodeState(results[0])
        let firstCompensation = results[1].count == 1
        if state.isPrepared {
            await connection.rollbackIgnoringCancellation()
            throw ParticipantError(
                .branchPrepared, "\(gid) is prepared, not committed: commit or roll it back before compensating"
            )
        }
        guard firstCompensation else {
            await connection.rollbackIgnoringCancellation()
            try await requireSameWork(connection, gid: gid, op: "compensation", digest: digest)
            return state.isCancelled ? .empty : .compensated
        }
        if state.isCancelled {
            try await connection.query("COMMIT")
            return .empty
        }
        do {
            let actionSlot = try await connection.query(BarrierSQL.insertActionIfAbsent, [gid])
            if actionSlot.count == 1 {
                // The action never ran: take its place and cancel it, so a late Prepare is refused.
                // The order that caused this is a compensation's, kept on the compensation row
                // (a rollback's order would name another command).
                try await connection.query(BarrierSQL.insertCancelledIfAbsent, [gid, nil, nil])
                try await connection.query("COMMIT")
                return .empty
            }
            let actionBounds = BarrierSQL.setLocalLockTimeout(configuration.actionLockTimeout)
            try await connection.query(actionBounds.sql, actionBounds.parameters)
        } catch {
            await connection.rollbackIgnoringCancellation()
            throw error
        }
        do {
            try await work(ParticipantTransaction(connection: connection, gid: gid))
        } catch let refusal as Refusal {
            await connection.rollbackIgnoringCancellation()
            return .refused(reason: refusal.boundedReason)
        } catch {
            await connection.rollbackIgnoringCancellation()
            throw Self.failure(error, doing: "compensation", gid: gid, lockTimeout: configuration.actionLockTimeout)
        }
        try await connection.query("COMMIT")
        return .compensated
    }

    // MARK: Helpers

    /// In one round trip: BEGIN, the barrier's lock bound, the statement bound, then `statements`.
    /// Returns the rows of `statements`; on any failure the transaction is rolled back.
    private func begin(
        _ connection: PostgresConnection, then statements: [PostgresStatement]
    ) async throws -> [PostgresRows] {
        let leading = [
            PostgresStatement("BEGIN"),
            BarrierSQL.setLocalTimeouts(lock: configuration.barrierLockTimeout, statement: configuration.statementTimeout),
        ]
        let results = try await connection.pipeline(leading + statements)
        do {
            return Array(try results.map { try $0.get() }.dropFirst(leading.count))
        } catch {
            await connection.rollbackIgnoringCancellation()
            throw error
        }
    }

    private func barrierState(_ connection: PostgresConnection, gid: String) async throws -> BarrierState {
        try Self.decodeState(try await connection.query(BarrierSQL.state, [gid]))
    }

    private static func decodeState(_ rows: PostgresRows) throws -> BarrierState {
        BarrierState(
            isPrepared: try rows[0].decode(column: "prepared"),
            isCancelled: try rows[0].decode(column: "cancelled"),
            actionRecorded: try rows[0].decode(column: "action")
        )
    }

    /// Conflicts and lost connections keep their meaning; anything else from the closure is the
    /// closure's failure, named as such.
    private static func failure(_ error: any Error, doing kind: String, gid: String, lockTimeout: Duration) -> any Error {
        if let postgres = error as? PostgresError, postgres.code == .lockNotAvailable {
            // Not retried here: the row is most likely held by another prepared branch, which only
            // its coordinator will release; waiting again would only hold this connection longer.
            return ParticipantError(
                .conflict,
                "\(kind) of \(gid) waited \(lockTimeout) for a row lock (held by another transaction, perhaps a "
                    + "prepared branch awaiting its coordinator); nothing was done; retry later"
            )
        }
        if let postgres = error as? PostgresError, postgres.isTransientConflict || postgres.isUnavailable || postgres.isResourceShortage {
            return postgres
        }
        if error is CancellationError || error is ParticipantError { return error }
        return ParticipantError(.operationFailed, "\(kind) of \(gid) failed: \(error)")
    }
}
