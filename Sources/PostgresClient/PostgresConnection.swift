import Foundation

/// One PostgreSQL session. Every libpq call runs on the connection's own thread (see
/// `ConnectionThread` for why), so awaiting a query never blocks a cooperative thread.
///
/// Statements run one at a time in submission order. Share a connection only through a
/// `PostgresPool` or by giving it to one task at a time: a transaction belongs to its session.
///
/// Cancellation: cancelling the awaiting task, or passing a statement's `timeout`, sends a cancel
/// request to the server (`PQcancel`). The session stays usable; if a transaction was open it is
/// in the failed state and `withTransaction` rolls it back. The session is not handed to the next
/// statement until the cancel request has reached the server, so a late cancel never hits a
/// statement it was not meant for.
public final class PostgresConnection: @unchecked Sendable {
    public static let connectTimeoutSecondsDefault = 10
    public static let statementCacheCapacityDefault = 256

    private let thread: ConnectionThread
    private let session: LibPQSession
    private let cancelHandle: CancelHandle?
    /// The server process serving this session; what `pg_terminate_backend` takes.
    public let backendProcessID: Int32

    // Guarded by `lock`.
    private let lock = NSCondition()
    private var operations = OperationTable()

    private init(thread: ConnectionThread, session: LibPQSession) {
        self.thread = thread
        self.session = session
        self.cancelHandle = session.makeCancelHandle()
        self.backendProcessID = session.backendProcessID
    }

    deinit {
        // Queued jobs still hold the session; the thread ends after them and the session's deinit closes it.
        thread.shutDown()
    }

    /// Opens a session from a `postgres://` URL or a `key=value` conninfo string. TLS settings
    /// (`sslmode=verify-full`, `sslrootcert=…`) pass through to libpq unchanged.
    ///
    /// - Parameter statementCacheCapacity: how many statements with parameters the session keeps
    ///   prepared on the server (`StatementCache`); 0 behind a pooler in transaction mode.
    public static func connect(
        to connectionString: String,
        connectTimeoutSeconds: Int = connectTimeoutSecondsDefault,
        statementCacheCapacity: Int = statementCacheCapacityDefault
    ) async throws -> PostgresConnection {
        try await connect(
            to: connectionString, connectTimeoutSeconds: connectTimeoutSeconds, statementCacheCapacity: statementCacheCapacity,
            threadName: "settle-postgres"
        )
    }

    /// `threadName`: the connection thread's name, which tests count threads by.
    static func connect(
        to connectionString: String, connectTimeoutSeconds: Int, statementCacheCapacity: Int, threadName: String
    ) async throws -> PostgresConnection {
        let thread = ConnectionThread(name: threadName)
        let session: LibPQSession
        do {
            session = try await openSession(on: thread, connectionString, connectTimeoutSeconds, statementCacheCapacity)
        } catch {
            // The thread would otherwise wait for work forever: one leaked per failed attempt.
            thread.shutDown()
            throw error
        }
        return PostgresConnection(thread: thread, session: session)
    }

    private static func openSession(
        on thread: ConnectionThread, _ connectionString: String, _ connectTimeoutSeconds: Int, _ statementCacheCapacity: Int
    ) async throws -> LibPQSession {
        try await withCheckedThrowingContinuation { continuation in
            thread.submit {
                continuation.resume(
                    with: Result { () throws(PostgresError) in
                        try LibPQSession(
                            connectionString: connectionString, connectTimeoutSeconds: connectTimeoutSeconds,
                            statementCacheCapacity: statementCacheCapacity
                        )
                    }
                )
            }
        }
    }

    // MARK: Statements

    /// Runs one statement; values go only as `$n` parameters.
    ///
    /// - Parameter timeout: cancel the statement on the server if it runs longer; throws `.timeout`.
    @discardableResult
    public func query(
        _ sql: String,
        _ parameters: PostgresParameters = [],
        timeout: Duration? = nil
    ) async throws -> PostgresRows {
        try await perform(sql: sql, timeout: timeout) { session throws(PostgresError) in
            try session.execute(sql, parameters: parameters)
        }
    }

    /// Runs `body` between `BEGIN` and `COMMIT`; rolls back if it throws (also when the task was cancelled).
    @discardableResult
    public func withTransaction<Result>(
        _ body: (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        try await query("BEGIN")
        let value: Result
        do {
            value = try await body(self)
        } catch {
            await rollbackIgnoringCancellation()
            throw error
        }
        let commit = try await query("COMMIT")
        // A transaction that an error already aborted answers COMMIT with a ROLLBACK tag.
        guard commit.commandTag == "COMMIT" else {
            throw PostgresError(
                code: .server,
                message: "transaction was rolled back at COMMIT (tag \(commit.commandTag)); an earlier statement failed",
                query: "COMMIT"
            )
        }
        return value
    }

    /// Runs `body` on this connection's own thread, as its task executor. Each statement then
    /// calls libpq where it already is, instead of handing over to the thread and back: two thread
    /// wake-ups per statement fewer, which were the largest cost of a participant under load (a
    /// branch's Prepare is three round trips). What in `body` is not isolated to an actor runs on
    /// that thread too; it is no cooperative thread, so code that blocks there delays only this
    /// connection. Child tasks started in `body` inherit the preference and take turns on the
    /// thread: one that would time out a statement (sleep, then cancel) cannot run while the
    /// statement blocks it; use a statement's `timeout:` instead. Use it for a sequence of
    /// statements on a connection the caller holds alone.
    public func withConnectionThread<Value>(_ body: () async throws -> Value) async throws -> Value {
        try await withTaskExecutorPreference(thread) { try await body() }
    }

    /// Statements and other jobs handed to the connection thread so far: what
    /// `withConnectionThread` saves, counted.
    public var handOffCount: Int { thread.submissions.load(ordering: .relaxed) }

    /// Sends `statements` in one round trip with libpq's pipeline mode and returns one result per
    /// statement, in order. Without an explicit `BEGIN` among them, they form one implicit
    /// transaction: when one fails, the later ones report `.pipelineAborted` and the earlier ones
    /// are rolled back too.
    public func pipeline(_ statements: [PostgresStatement]) async throws -> [Result<PostgresRows, PostgresError>] {
        // A pipeline reports a statement's failure in its results, so a cancel (the task's, or a
        // Rollback stopping a Prepare) must be recognized there to surface as what caused it.
        try await perform(
            sql: statements.first?.sql ?? "", timeout: nil,
            wasCanceled: { $0.contains { if case .failure(let error) = $0 { error.code == .queryCanceled } else { false } } }
        ) { session throws(PostgresError) in
            try session.runPipeline(statements)
        }
    }

    /// True once the session is known to be unusable (lost connection, closed).
    public var isBroken: Bool {
        lock.lock()
        defer { lock.unlock() }
        return operations.isBroken
    }

    /// The transaction status after the last completed statement.
    public var transactionStatus: PostgresTransactionStatus {
        lock.lock()
        defer { lock.unlock() }
        return operations.transactionStatus
    }

    /// Closes the session after the statements already queued (at once when called on the
    /// connection's thread, where none can be queued ahead of it by the task holding the session).
    public func close() async {
        let session = self.session
        _ = await onConnectionThread { session.finish() }
        markClosed()
        thread.shutDown()
    }

    private func markClosed() {
        lock.lock()
        defer { lock.unlock() }
        operations.isBroken = true
    }

    // MARK: Running work on the connection thread

    /// Runs `work` on the connection thread, wiring task cancellation and `timeout` to a server-side cancel.
    /// - Parameter wasCanceled: whether a value that came back is the work cut short by a cancel
    ///   (a pipeline's results); then the caller hears the cancel's cause, as a thrown one does.
    func perform<Value: Sendable>(
        sql: String,
        timeout: Duration?,
        wasCanceled: @escaping @Sendable (Value) -> Bool = { _ in false },
        _ work: @escaping @Sendable (LibPQSession) throws(PostgresError) -> Value
    ) async throws -> Value {
        // Reserved before the cancellation handler exists, so a cancel that races the start still finds it.
        let id = reserveOperation()
        if let timeout {
            let nanoseconds = timeout.components.seconds * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000
            DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(Int(clamping: nanoseconds))) {
                [weak self] in
                self?.requestCancel(id, reason: .timeout)
            }
        }
        return try await withTaskCancellationHandler {
            let session = self.session
            let outcome = await onConnectionThread { [self] () -> Result<Value, any Error> in
                if let reason = startOperation(id) { return .failure(reason.error(timeout: timeout, sql: sql)) }
                let result = Result { () throws(PostgresError) in try work(session) }
                let reason = finishOperation(id, session: session)
                return Self.outcome(result, cancelReason: reason, timeout: timeout, sql: sql, wasCanceled: wasCanceled)
            }
            guard let outcome else {
                abandonOperation(id)
                throw PostgresError(code: .connectionLost, message: "connection is closed", query: sql)
            }
            return try outcome.get()
        } onCancel: {
            requestCancel(id, reason: .task)
        }
    }

    /// ROLLBACK that runs even when the task is already cancelled: the transaction must not stay
    /// open. For callers that began the transaction themselves (as in a pipeline).
    public func rollbackIgnoringCancellation() async {
        let id = reserveOperation()
        let session = self.session
        let ranOnThread: Void? = await onConnectionThread { [self] in
            _ = startOperation(id)
            _ = try? session.execute("ROLLBACK", parameters: [])
            _ = finishOperation(id, session: session)
        }
        if ranOnThread == nil { abandonOperation(id) }
    }

    /// Runs `body` on the connection thread: at once when the caller is already on it (a task
    /// inside `withConnectionThread`), else handed over and awaited. Nil, and `body` not run, when
    /// the session is closed (read on the thread, the only one that closes it) or the thread is gone.
    private func onConnectionThread<Value: Sendable>(_ body: @escaping @Sendable () -> Value) async -> Value? {
        let session = self.session
        if thread.isCurrent { return session.isClosed ? nil : body() }
        return await withCheckedContinuation { (continuation: CheckedContinuation<Value?, Never>) in
            let accepted = thread.submit { continuation.resume(returning: session.isClosed ? nil : body()) }
            if !accepted { continuation.resume(returning: nil) }
        }
    }

    private static func outcome<Value>(
        _ result: Result<Value, PostgresError>,
        cancelReason: CancelReason?,
        timeout: Duration?,
        sql: String,
        wasCanceled: (Value) -> Bool
    ) -> Result<Value, any Error> {
        switch result {
        case .success(let value):
            if let cancelReason, wasCanceled(value) { return .failure(cancelReason.error(timeout: timeout, sql: sql)) }
            // Finished before the cancel landed: the work is done, and that is what the caller must learn.
            return .success(value)
        case .failure(let error):
            if let cancelReason, error.code == .queryCanceled {
                return .failure(cancelReason.error(timeout: timeout, sql: sql))
            }
            return .failure(error)
        }
    }

    private func reserveOperation() -> UInt64 {
        lock.lock()
        defer { lock.unlock() }
        return operations.reserve()
    }

    /// Returns the reason if the operation was cancelled before it started (it must then not run).
    private func startOperation(_ id: UInt64) -> CancelReason? {
        lock.lock()
        defer { lock.unlock() }
        return operations.start(id)
    }

    private func finishOperation(_ id: UInt64, session: LibPQSession) -> CancelReason? {
        let isBroken = session.isBroken
        let transactionStatus = session.transactionStatus
        lock.lock()
        defer { lock.unlock() }
        let reason = operations.finish(id, isBroken: isBroken, transactionStatus: transactionStatus)
        // The next statement must not start while a cancel aimed at this one is still on its way.
        while operations.cancelsInFlight > 0 { lock.wait() }
        return reason
    }

    private func abandonOperation(_ id: UInt64) {
        lock.lock()
        defer { lock.unlock() }
        _ = operations.finish(id, isBroken: true, transactionStatus: .unknown)
    }

    private func requestCancel(_ id: UInt64, reason: CancelReason) {
        lock.lock()
        let mustSend = operations.requestCancel(id, reason: reason)
        lock.unlock()
        guard mustSend, let cancelHandle else { return }
        // PQcancel opens a connection and waits: never on a cooperative thread, never on this
        // connection's thread (busy with the statement being cancelled).
        DispatchQueue.global().async { [self] in
            cancelHandle.send()
            lock.lock()
            operations.cancelsInFlight -= 1
            lock.broadcast()
            lock.unlock()
        }
    }
}

/// One statement of a pipeline.
public struct PostgresStatement: Sendable {
    public var sql: String
    public var parameters: PostgresParameters

    public init(_ sql: String, _ parameters: PostgresParameters = []) {
        self.sql = sql
        self.parameters = parameters
    }
}

enum CancelReason: Sendable {
    case task
    case timeout

    func error(timeout: Duration?, sql: String) -> any Error {
        switch self {
        case .task:
            return CancellationError()
        case .timeout:
            return PostgresError(
                code: .timeout,
                message: "statement exceeded its timeout of \(timeout.map { "\($0)" } ?? "?") and was cancelled on the server",
                query: sql
            )
        }
    }
}

/// The bookkeeping that ties cancel requests to the one statement they target. Pure; the
/// connection holds it under its lock.
struct OperationTable {
    private var nextID: UInt64 = 0
    private var pending: Set<UInt64> = []
    private var runningID: UInt64?
    private var cancelReasons: [UInt64: CancelReason] = [:]
    var cancelsInFlight = 0
    var isBroken = false
    var transactionStatus = PostgresTransactionStatus.idle

    mutating func reserve() -> UInt64 {
        nextID += 1
        pending.insert(nextID)
        return nextID
    }

    mutating func start(_ id: UInt64) -> CancelReason? {
        if let reason = cancelReasons.removeValue(forKey: id) {
            pending.remove(id)
            return reason
        }
        runningID = id
        return nil
    }

    mutating func finish(_ id: UInt64, isBroken: Bool, transactionStatus: PostgresTransactionStatus) -> CancelReason? {
        pending.remove(id)
        if runningID == id { runningID = nil }
        self.isBroken = isBroken
        self.transactionStatus = transactionStatus
        return cancelReasons.removeValue(forKey: id)
    }

    /// Records the request; returns true when a cancel must be sent to the server now.
    mutating func requestCancel(_ id: UInt64, reason: CancelReason) -> Bool {
        guard pending.contains(id), cancelReasons[id] == nil else { return false }
        cancelReasons[id] = reason
        guard runningID == id else { return false }
        cancelsInFlight += 1
        return true
    }
}
