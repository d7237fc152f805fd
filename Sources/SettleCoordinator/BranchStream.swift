import GRPCCore
import GRPCNIOTransportHTTP2
import SettleCore
import SettleProtocol
import SettleTracing
import Synchronization

/// One participant's commands of one kind (Prepare, Commit or Rollback) over one long-lived
/// `Branches` call (participant.proto), instead of a unary call — an HTTP/2 stream opened and
/// closed on both sides — per command. Each command still gets its own answer, deadline,
/// cancellation and trace span; the participant answers each as its unary RPC would.
///
/// The call opens when the first command arrives and is reopened after it ends. When it ends,
/// commands it had not answered fail as UNAVAILABLE: the driver retries them like any transient
/// failure, and every command is idempotent. A participant that does not know the call
/// (UNIMPLEMENTED: built before it existed) is remembered, and its commands fail with
/// `BranchStreamUnimplemented` so that the caller sends them as unary calls instead.
final class BranchStream: Sendable {
    typealias Answer = Settle_V1_BranchAnswer.OneOf_Answer

    /// The unary method this stream stands in for: the name of each command's span.
    let method: MethodDescriptor
    private let participant: String
    private let client: Settle_V1_Participant.Client<HTTP2ClientTransport.Posix>
    private let metadata: Metadata
    private let state = Mutex(State())
    /// A call whose commands pass their deadlines while nothing is answered for this long is
    /// abandoned and reopened: a participant that stops reading (wedged, or hostile) must not
    /// leave settled queueing every retry behind it.
    let stallLimit: Duration

    /// How often overdue commands are looked for: a command's deadline is kept to within this.
    static let overdueCheckInterval = Duration.milliseconds(20)
    /// The pause before reopening a call that failed, so a participant that fails every call at
    /// once is not called in a loop.
    static let reopenPause = Duration.milliseconds(50)

    /// What the participant says, as each call opens, about the batch seals it accepts.
    let sealSupport: OrderSealSupport

    init(
        method: MethodDescriptor, participant: String, client: Settle_V1_Participant.Client<HTTP2ClientTransport.Posix>,
        metadata: Metadata, stallLimit: Duration = .seconds(5), sealSupport: OrderSealSupport = OrderSealSupport()
    ) {
        self.sealSupport = sealSupport
        self.stallLimit = stallLimit
        self.method = method
        self.participant = participant
        self.client = client
        self.metadata = metadata
    }

    /// Whether the participant answered UNIMPLEMENTED to the call: send unary calls instead.
    var isUnimplemented: Bool { state.withLock { $0.isUnimplemented } }

    /// Sends `command` and waits for its answer. A participant's non-OK answer is thrown as the
    /// `RPCError` its unary call would have thrown. `timeout` bounds the wait, and the participant
    /// is told what is left of it when the command is written, and cancels the command then, as a
    /// unary call's deadline would.
    func send(_ command: Settle_V1_BranchCommand.OneOf_Command, timeout: Duration?) async throws -> Answer {
        try await CommandTraceContext.withClientSpan(method.fullyQualifiedMethod) { trace in
            var message = Settle_V1_BranchCommand()
            message.command = command
            message.traceparent = trace.traceparent
            message.tracestate = trace.tracestate
            let deadline = timeout.map { ContinuousClock.now + $0 }
            let reply = try await waitForAnswer(to: message, deadline: deadline)
            guard reply.gid == message.gid, let answer = reply.answer else {
                throw RPCError(
                    code: .internalError, message: "\(participant) answered command \(reply.id) for \(message.gid) with another command's answer"
                )
            }
            if case .error(let error) = answer {
                let code = Status.Code(rawValue: Int(error.code)).flatMap(RPCError.Code.init) ?? .unknown
                throw RPCError(code: code, message: error.message)
            }
            return answer
        }
    }

    private func waitForAnswer(
        to message: Settle_V1_BranchCommand, deadline: ContinuousClock.Instant?
    ) async throws -> Settle_V1_BranchAnswer {
        var message = message
        let id = state.withLock { state in
            state.nextID += 1
            return state.nextID
        }
        message.id = id
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Settle_V1_BranchAnswer, any Error>) in
                let refusal = state.withLock { state in
                    state.enqueue(message, waiter: Waiter(continuation: continuation, deadline: deadline))
                }
                if let refusal {
                    continuation.resume(throwing: refusal)
                } else if Task.isCancelled {
                    // Cancelled before the handler below could find the waiter.
                    resolve(id, with: .failure(CancellationError()))
                }
            }
        } onCancel: {
            resolve(id, with: .failure(CancellationError()))
        }
    }

    /// Opens the call whenever commands wait for one, until `shutDown()`; meanwhile fails
    /// commands whose deadline passed.
    func run() async {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.failOverdueCommands() }
            while await waitForCommands() {
                if await !runOneCallUntilStalled() {
                    try? await Task.sleep(for: Self.reopenPause)
                }
            }
            group.cancelAll()
        }
        // Nothing serves the stream any more (shut down, or cancelled): nobody may wait on it.
        let stranded = state.withLock { $0.closeForGood() }
        for waiter in stranded { waiter.continuation.resume(throwing: Self.shuttingDown) }
    }

    static let shuttingDown = RPCError(code: .unavailable, message: "the coordinator is shutting down")

    private func runOneCallUntilStalled() async -> Bool {
        await withTaskGroup(of: Bool?.self) { call in
            call.addTask { await self.runOneCall() }
            call.addTask {
                await self.park(in: .reset) { $0.resetRequested }
                return nil
            }
            let first = await call.next() ?? nil
            call.cancelAll()
            if let endedCleanly = first { return endedCleanly }
            return await call.next().flatMap { $0 } ?? false
        }
    }

    /// Ends the call once the commands already sent are answered; later commands fail at once.
    func shutDown() {
        let unsent = state.withLock { state in
            state.isShutDown = true
            state.outbox?.finish()
            state.wake(.commands)
            state.wake(.deadlines)
            // Commands still queued for a call will never be sent now.
            return state.takeQueued()
        }
        for waiter in unsent { waiter.continuation.resume(throwing: Self.shuttingDown) }
    }

    /// One call, from opening to its end; returns whether it ended without an error.
    private func runOneCall() async -> Bool {
        let outbox = MessageOutbox<Settle_V1_BranchCommand>()
        guard state.withLock({ $0.open(outbox) }) else {
            outbox.finish()
            return true
        }
        var ending = RPCError(code: .unavailable, message: "the participant ended the call")
        var endedCleanly = true
        do {
            try await client.branches(
                metadata: metadata,
                requestProducer: { writer in
                    // Every command waiting goes in one write: one hop to the event loop, one flush.
                    // Each batch's deadlines are read when it is taken; a write held up by flow
                    // control sends them a little stale, which the participant's own clock bounds.
                    while let waiting = await outbox.next() {
                        let now = ContinuousClock.now
                        let commands = self.state.withLock { state in waiting.compactMap { state.timed($0, now: now) } }
                        if !commands.isEmpty {
                            try await writer.write(contentsOf: commands)
                        }
                    }
                },
                onResponse: { response in
                    // The producer waits for commands until the outbox ends: end it with the call.
                    defer { outbox.finish() }
                    self.sealSupport.learn(from: response.metadata)
                    for try await answer in response.messages {
                        self.state.withLock { $0.lastAnswerAt = .now }
                        self.resolve(answer.id, with: .success(answer))
                    }
                }
            )
        } catch {
            ending = error as? RPCError ?? RPCError(code: .unavailable, message: "\(error)")
            endedCleanly = false
        }
        outbox.finish()
        let unimplemented = ending.code == .unimplemented
        let unanswered = state.withLock { $0.close(unimplemented: unimplemented) }
        let failure: any Error
        if unimplemented {
            failure = BranchStreamUnimplemented()
        } else if Self.refusalsOfTheCall.contains(ending.code) {
            // The participant refused the call itself (a wrong token, too many calls): each
            // command gets that answer, as its unary call would have.
            failure = RPCError(code: ending.code, message: "\(participant) refused the Branches call: \(ending.message)")
        } else {
            failure = RPCError(
                code: .unavailable, message: "the Branches call to \(participant) ended before answering: \(ending.code): \(ending.message)"
            )
        }
        for waiter in unanswered { waiter.continuation.resume(throwing: failure) }
        return endedCleanly
    }

    private static let refusalsOfTheCall: [RPCError.Code] = [
        .unauthenticated, .permissionDenied, .resourceExhausted, .invalidArgument, .failedPrecondition,
    ]

    /// Parks until a command waits for a call; false once shut down or cancelled.
    private func waitForCommands() async -> Bool {
        await park(in: .commands) { $0.isShutDown || !$0.queued.isEmpty }
        return state.withLock { !$0.isShutDown } && !Task.isCancelled
    }

    /// Fails waiters whose deadline passed, checking only while some waiter has a deadline, so
    /// that an idle coordinator is not woken for nothing.
    private func failOverdueCommands() async {
        while !Task.isCancelled {
            await park(in: .deadlines) { $0.isShutDown || $0.deadlinesPending > 0 }
            if state.withLock({ $0.isShutDown }) { return }
            try? await Task.sleep(for: Self.overdueCheckInterval)
            let now = ContinuousClock.now
            let overdue = state.withLock { state in
                let overdue = state.takeOverdue(now: now)
                if !overdue.isEmpty, state.outbox != nil, now - state.lastAnswerAt > stallLimit {
                    state.resetRequested = true
                    state.wake(.reset)
                }
                return overdue
            }
            for waiter in overdue {
                waiter.continuation.resume(
                    throwing: RPCError(code: .deadlineExceeded, message: "\(participant) did not answer before the deadline")
                )
            }
        }
    }

    /// Returns once `isReady` holds (re-checked when something wakes `slot`) or the task is cancelled.
    private func park(
        in slot: ParkingSlot, until isReady: @escaping (State) -> Bool
    ) async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let ready = state.withLock { state in
                    if isReady(state) || Task.isCancelled { return true }
                    state[parked: slot] = continuation
                    return false
                }
                if ready { continuation.resume() }
            }
        } onCancel: {
            state.withLock { state in
                defer { state[parked: slot] = nil }
                return state[parked: slot]
            }?.resume()
        }
    }

    private func resolve(_ id: UInt64, with result: Result<Settle_V1_BranchAnswer, any Error>) {
        guard let waiter = state.withLock({ $0.take(id) }) else { return }  // answered, failed or timed out already
        waiter.continuation.resume(with: result)
    }
}

/// The participant does not implement `Branches`: send the command as a unary call.
struct BranchStreamUnimplemented: Error {}

fileprivate enum ParkingSlot: Sendable {
    case commands, deadlines, reset
}

private struct Waiter: Sendable {
    let continuation: CheckedContinuation<Settle_V1_BranchAnswer, any Error>
    let deadline: ContinuousClock.Instant?
}

fileprivate struct State {
    var nextID: UInt64 = 0
    var waiters: [UInt64: Waiter] = [:]
    var deadlinesPending = 0
    /// Commands sent while no call was open, in order, for the next call.
    var queued: [Settle_V1_BranchCommand] = []
    var outbox: MessageOutbox<Settle_V1_BranchCommand>?
    var parkedForCommands: CheckedContinuation<Void, Never>?
    var parkedForDeadlines: CheckedContinuation<Void, Never>?
    var parkedForReset: CheckedContinuation<Void, Never>?
    var resetRequested = false
    var lastAnswerAt = ContinuousClock.now
    var isShutDown = false
    var isUnimplemented = false

    subscript(parked slot: ParkingSlot) -> CheckedContinuation<Void, Never>? {
        get {
            switch slot {
            case .commands: parkedForCommands
            case .deadlines: parkedForDeadlines
            case .reset: parkedForReset
            }
        }
        set {
            switch slot {
            case .commands: parkedForCommands = newValue
            case .deadlines: parkedForDeadlines = newValue
            case .reset: parkedForReset = newValue
            }
        }
    }

    mutating func wake(_ slot: ParkingSlot) {
        self[parked: slot]?.resume()
        self[parked: slot] = nil
    }

    /// `command` with its `timeout_ms`: what is left of its deadline, 0 for none; nil when it is
    /// no longer wanted (its waiter gave up, or its time is up) and is not to be sent at all.
    func timed(_ command: Settle_V1_BranchCommand, now: ContinuousClock.Instant) -> Settle_V1_BranchCommand? {
        guard let waiter = waiters[command.id] else { return nil }
        var command = command
        if let deadline = waiter.deadline {
            let left = deadline - now
            guard left > .zero else { return nil }
            command.timeoutMs = UInt32(clamping: max(1, left.wholeMilliseconds + 1))
        } else {
            command.timeoutMs = 0
        }
        return command
    }

    mutating func takeQueued() -> [Waiter] {
        defer { queued.removeAll() }
        return queued.compactMap { take($0.id) }
    }

    /// The stream is gone: every waiter is taken, and later commands are refused.
    mutating func closeForGood() -> [Waiter] {
        isShutDown = true
        outbox?.finish()
        queued.removeAll()
        return close(unimplemented: false)
    }

    /// Registers the waiter and sends or queues the command; returns why not, if not.
    mutating func enqueue(_ message: Settle_V1_BranchCommand, waiter: Waiter) -> (any Error)? {
        if isUnimplemented { return BranchStreamUnimplemented() }
        if isShutDown { return BranchStream.shuttingDown }
        waiters[message.id] = waiter
        if waiter.deadline != nil {
            deadlinesPending += 1
            wake(.deadlines)
        }
        if let outbox {
            outbox.yield(message)
        } else {
            queued.append(message)
            wake(.commands)
        }
        return nil
    }

    mutating func take(_ id: UInt64) -> Waiter? {
        guard let waiter = waiters.removeValue(forKey: id) else { return nil }
        if waiter.deadline != nil { deadlinesPending -= 1 }
        return waiter
    }

    mutating func takeOverdue(now: ContinuousClock.Instant) -> [Waiter] {
        let overdue = waiters.filter { $0.value.deadline.map { $0 <= now } ?? false }.keys
        return overdue.compactMap { take($0) }
    }

    /// The call is open: queued commands go first. False once shut down.
    mutating func open(_ outbox: MessageOutbox<Settle_V1_BranchCommand>) -> Bool {
        guard !isShutDown else { return false }
        for command in queued { outbox.yield(command) }
        queued.removeAll()
        self.outbox = outbox
        resetRequested = false
        lastAnswerAt = .now
        return true
    }

    /// The call ended: every waiter had its command sent on it (later ones queue for the next call).
    mutating func close(unimplemented: Bool) -> [Waiter] {
        outbox = nil
        if unimplemented { isUnimplemented = true }
        let unanswered = Array(waiters.values)
        waiters.removeAll()
        deadlinesPending = 0
        return unanswered
    }

}
