import Foundation
import Synchronization

/// A bounded pool of sessions to one database.
///
/// - At most `connectionsMax` sessions exist; borrowers beyond that wait in FIFO order, and fail
///   with `.acquireTimeout` after `acquireTimeout`.
/// - A session that comes back broken, or inside a transaction that cannot be rolled back, is
///   closed and its slot given to the next waiter, which opens a fresh one.
/// - A session idle longer than `idleCheckAfter` is checked with an empty statement before it is
///   lent, so that a backend killed while idle is replaced instead of failing the borrower.
public final class PostgresPool: Sendable {
    public struct Configuration: Sendable {
        public var connectionString: String
        public var connectionsMax: Int
        public var acquireTimeout: Duration
        public var idleCheckAfter: Duration
        public var connectTimeoutSeconds: Int
        /// Statements each session keeps prepared on the server; 0 behind a pooler in
        /// transaction mode (PgBouncer), where a named statement does not follow the session.
        public var statementCacheCapacity: Int

        public init(
            connectionString: String,
            connectionsMax: Int = 10,
            acquireTimeout: Duration = .seconds(5),
            idleCheckAfter: Duration = .seconds(30),
            connectTimeoutSeconds: Int = PostgresConnection.connectTimeoutSecondsDefault,
            statementCacheCapacity: Int = PostgresConnection.statementCacheCapacityDefault
        ) {
            precondition(connectionsMax > 0, "a pool needs at least one connection")
            self.connectionString = connectionString
            self.connectionsMax = connectionsMax
            self.acquireTimeout = acquireTimeout
            self.idleCheckAfter = idleCheckAfter
            self.connectTimeoutSeconds = connectTimeoutSeconds
            self.statementCacheCapacity = statementCacheCapacity
        }
    }

    public let configuration: Configuration
    private let state = Mutex(PoolState())

    public init(configuration: Configuration) {
        self.configuration = configuration
    }

    /// Lends a session to `body` and takes it back afterwards, whatever happens.
    public func withConnection<Result>(_ body: (PostgresConnection) async throws -> Result) async throws -> Result {
        let connection = try await acquire()
        do {
            let value = try await body(connection)
            await release(connection)
            return value
        } catch {
            await release(connection)
            throw error
        }
    }

    /// One statement on a borrowed session.
    @discardableResult
    public func query(
        _ sql: String,
        _ parameters: PostgresParameters = [],
        timeout: Duration? = nil
    ) async throws -> PostgresRows {
        try await withConnection { try await $0.query(sql, parameters, timeout: timeout) }
    }

    /// Closes idle sessions, fails waiters, and closes lent sessions as they come back.
    public func close() async {
        let (idle, waiters) = state.withLock { state in
            state.isClosed = true
            defer {
                state.idle.removeAll()
                state.waiters.removeAll()
            }
            state.openCount -= state.idle.count
            return (state.idle.map(\.connection), state.waiters.map(\.continuation))
        }
        for waiter in waiters { waiter.resume(throwing: Self.closedError) }
        for connection in idle { await connection.close() }
    }

    /// Sessions that exist now, lent or idle, plus those being opened.
    public var openCount: Int { state.withLock { $0.openCount } }

    // MARK: Acquire and release

    private func acquire() async throws -> PostgresConnection {
        while true {
            try Task.checkCancellation()
            let grant = try state.withLock { state throws(PostgresError) -> Grant? in
                guard !state.isClosed else { throw Self.closedError }
                if let idle = state.idle.popLast() { return .idle(idle) }
                if state.openCount < configuration.connectionsMax {
                    state.openCount += 1
                    return .openSlot
                }
                return nil
            }
            let granted: Grant
            if let grant {
                granted = grant
            } else {
                granted = try await waitForGrant()
            }
            switch granted {
            case .idle(let idle):
                if ContinuousClock.now - idle.since < configuration.idleCheckAfter, !idle.connection.isBroken {
                    return idle.connection
                }
                if await isAlive(idle.connection) { return idle.connection }
                await discard(idle.connection)
            case .openSlot:
                return try await openConnection()
            case .handoff(let connection):
                return connection
            }
        }
    }

    private func isAlive(_ connection: PostgresConnection) async -> Bool {
        guard !connection.isBroken else { return false }
        do {
            try await connection.query("", timeout: configuration.acquireTimeout)
            return true
        } catch {
            return false
        }
    }

    private func openConnection() async throws -> PostgresConnection {
        do {
            return try await PostgresConnection.connect(
                to: configuration.connectionString,
                connectTimeoutSeconds: configuration.connectTimeoutSeconds,
                statementCacheCapacity: configuration.statementCacheCapacity
            )
        } catch {
            giveUpSlot()
            throw error
        }
    }

    private func waitForGrant() async throws -> Grant {
        let waiterID = state.withLock { state in
            state.nextWaiterID += 1
            return state.nextWaiterID
        }
        let timeout = configuration.acquireTimeout
        let connectionsMax = configuration.connectionsMax
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Grant, any Error>) in
                let enqueued = state.withLock { state -> Bool in
                    // Cancelled before we got here: the handler found nothing to remove.
                    guard !state.cancelledWaiterIDs.contains(waiterID) else {
                        state.cancelledWaiterIDs.remove(waiterID)
                        return false
                    }
                    state.waiters.append(Waiter(id: waiterID, continuation: continuation))
                    return true
                }
                guard enqueued else {
                    continuation.resume(throwing: CancellationError())
                    return
                }
                let nanoseconds = timeout.components.seconds * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000
                DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(Int(clamping: nanoseconds))) { [self] in
                    removeWaiter(waiterID)?.resume(
                        throwing: PostgresError(
                            code: .acquireTimeout,
                            message: "no PostgreSQL connection became free within \(timeout); all \(connectionsMax) are in use"
                        )
                    )
                }
            }
        } onCancel: {
            let waiter = state.withLock { state -> Waiter? in
                if let index = state.waiters.firstIndex(where: { $0.id == waiterID }) {
                    return state.waiters.remove(at: index)
                }
                state.cancelledWaiterIDs.insert(waiterID)
                return nil
            }
            waiter?.continuation.resume(throwing: CancellationError())
        }
    }

    private func removeWaiter(_ id: UInt64) -> CheckedContinuation<Grant, any Error>? {
        state.withLock { state in
            guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
            return state.waiters.remove(at: index).continuation
        }
    }

    private func release(_ connection: PostgresConnection) async {
        switch connection.transactionStatus {
        case .idle:
            break
        case .inTransaction, .failedTransaction:
            // A borrower that left a transaction open (cancelled mid-way): never lend it on as is.
            await connection.rollbackIgnoringCancellation()
        case .active, .unknown:
            break
        }
        guard !connection.isBroken, connection.transactionStatus == .idle else {
            await discard(connection)
            return
        }
        let handoff = state.withLock { state -> CheckedContinuation<Grant, any Error>? in
            if state.isClosed {
                state.openCount -= 1
                return nil
            }
            if !state.waiters.isEmpty { return state.waiters.removeFirst().continuation }
            state.idle.append(IdleConnection(connection: connection, since: .now))
            return nil
        }
        if let handoff {
            handoff.resume(returning: .handoff(connection))
        } else if state.withLock({ $0.isClosed }) {
            await connection.close()
        }
    }

    private func discard(_ connection: PostgresConnection) async {
        giveUpSlot()
        await connection.close()
    }

    /// A slot freed by a failed open or a discarded session goes to the first waiter, who opens anew.
    private func giveUpSlot() {
        let waiter = state.withLock { state -> CheckedContinuation<Grant, any Error>? in
            guard !state.waiters.isEmpty, !state.isClosed else {
                state.openCount -= 1
                return nil
            }
            return state.waiters.removeFirst().continuation
        }
        waiter?.resume(returning: .openSlot)
    }

    private static let closedError = PostgresError(code: .poolClosed, message: "the connection pool is closed")
}

private enum Grant: Sendable {
    case idle(IdleConnection)
    /// The borrower may open a new session; the slot is already counted.
    case openSlot
    case handoff(PostgresConnection)
}

private struct IdleConnection: Sendable {
    let connection: PostgresConnection
    let since: ContinuousClock.Instant
}

private struct Waiter: Sendable {
    let id: UInt64
    let continuation: CheckedContinuation<Grant, any Error>
}

private struct PoolState: Sendable {
    var idle: [IdleConnection] = []
    var waiters: [Waiter] = []
    var cancelledWaiterIDs: Set<UInt64> = []
    var nextWaiterID: UInt64 = 0
    /// Idle, lent and being-opened sessions.
    var openCount = 0
    var isClosed = false
}
