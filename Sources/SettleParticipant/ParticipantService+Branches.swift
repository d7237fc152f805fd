import GRPCCore
import SettleAuth
import SettleCore
import SettleProtocol
import SettleTracing

/// The `Branches` call: many Prepare, Commit and Rollback commands over one HTTP/2 stream, each
/// answered as soon as it is done by the same code as its unary RPC, so the two forms cannot
/// disagree. What it saves is the stream per command: opening and closing one (headers, a task,
/// its async sequences, on both sides) cost more CPU than most commands themselves.
extension ParticipantService {
    static let branchErrorMessageBytesMax = 1024
    static let branchShutdownGrace = Duration.seconds(2)
    static let shuttingDown = RPCError(code: .unavailable, message: "the participant is shutting down")

    /// The interceptors set the caller and its epoch as task-locals around the handler's start,
    /// but a streaming response's producer runs after that scope has ended: both are carried in.
    func branches(
        request: StreamingServerRequest<Settle_V1_BranchCommand>, context: ServerContext
    ) async throws -> StreamingServerResponse<Settle_V1_BranchAnswer> {
        let caller = AuthenticatedCaller.name
        let epochHeader = SenderEpochInterceptor.header
        // Tells the coordinator this participant accepts batch seals (protocol/signed-orders.md).
        var announcement = Metadata()
        announcement.addString(OrderBatchSeal.acceptanceValue, forKey: OrderBatchSeal.acceptanceHeader)
        return StreamingServerResponse(metadata: announcement) { writer in
            try await AuthenticatedCaller.$name.withValue(caller) {
                try await SenderEpochInterceptor.$header.withValue(epochHeader) {
                    try await branches(request: request.messages, response: writer, context: context)
                }
            }
            return [:]
        }
    }

    func branches(
        request: RPCAsyncSequence<Settle_V1_BranchCommand, any Error>,
        response: RPCWriter<Settle_V1_BranchAnswer>,
        context: ServerContext
    ) async throws {
        try await branchCalls.admit {
            let slots = CommandSlots(BranchCallGate.commandsPerCallMax)
            let answerSink = MessageOutbox<Settle_V1_BranchAnswer>()
            try await withThrowingTaskGroup(of: BranchCallPart.self) { group in
                // One writer: commands finish on many tasks, and a call's writes must not interleave.
                // The answers ready together go in one write: one hop to the event loop, one flush.
                group.addTask {
                    while let answers = await answerSink.next() {
                        try await response.write(contentsOf: answers)
                        slots.giveBack(answers.count)
                    }
                    return .writer
                }
                group.addTask {
                    try await runCommands(request, slots: slots, answering: answerSink, context: context)
                    answerSink.finish()
                    return .commands
                }
                group.addTask {
                    await shutdown.wait()
                    guard !Task.isCancelled else { return .shutdownWatch }
                    // Commands already running get a moment to finish; then the call ends, and its
                    // coordinator retries what was left unanswered elsewhere or later.
                    try await Task.sleep(for: Self.branchShutdownGrace)
                    throw Self.shuttingDown
                }
                // The call is done when every answer is written; the shutdown watch then ends too.
                while let part = try await group.next() {
                    if part == .writer { break }
                }
                group.cancelAll()
            }
        }
    }

    /// Reads commands until the caller's last, running each as it arrives while a slot is free;
    /// returns once every one has its answer.
    private func runCommands(
        _ request: RPCAsyncSequence<Settle_V1_BranchCommand, any Error>, slots: CommandSlots,
        answering answerSink: MessageOutbox<Settle_V1_BranchAnswer>, context: ServerContext
    ) async throws {
        try await withThrowingDiscardingTaskGroup { commands in
            for try await command in request {
                try await slots.take()
                guard !shutdown.isGiven else {
                    answerSink.yield(Self.refusal(command, Self.shuttingDown))
                    continue
                }
                commands.addTask { answerSink.yield(await answer(command, context: context)) }
            }
        }
    }

    /// One command's answer: its unary RPC's response, or the status that RPC would have ended with.
    func answer(_ command: Settle_V1_BranchCommand, context: ServerContext) async -> Settle_V1_BranchAnswer {
        var answer = Settle_V1_BranchAnswer()
        answer.id = command.id
        let trace = CommandTraceContext(traceparent: command.traceparent, tracestate: command.tracestate)
        do {
            answer.answer = try await withDeadline(milliseconds: command.timeoutMs) {
                switch command.command {
                case .prepare(let request):
                    try await trace.withServerSpan(Settle_V1_Participant.Method.Prepare.descriptor.fullyQualifiedMethod) {
                        .prepare(try await prepare(request: request, context: context))
                    }
                case .commit(let request):
                    try await trace.withServerSpan(Settle_V1_Participant.Method.Commit.descriptor.fullyQualifiedMethod) {
                        .commit(try await commit(request: request, context: context))
                    }
                case .rollback(let request):
                    try await trace.withServerSpan(Settle_V1_Participant.Method.Rollback.descriptor.fullyQualifiedMethod) {
                        .rollback(try await rollback(request: request, context: context))
                    }
                case nil:
                    throw RPCError(code: .invalidArgument, message: "command \(command.id) names no command; nothing was done")
                }
            }
        } catch {
            return Self.refusal(command, Self.rpcError(for: error))
        }
        answer.gid = command.gid
        return answer
    }

    static func refusal(_ command: Settle_V1_BranchCommand, _ status: RPCError) -> Settle_V1_BranchAnswer {
        var branchError = Settle_V1_BranchError()
        branchError.code = Int32(status.code.rawValue)
        branchError.message = status.message.truncated(toUTF8Bytes: branchErrorMessageBytesMax)
        var answer = Settle_V1_BranchAnswer()
        answer.id = command.id
        answer.gid = command.gid
        answer.answer = .error(branchError)
        return answer
    }

    /// `body` under the command's own deadline, as a unary call's deadline would cancel its handler.
    private func withDeadline<Result: Sendable>(
        milliseconds: UInt32, _ body: @escaping @Sendable () async throws -> Result
    ) async throws -> Result {
        guard milliseconds > 0 else { return try await body() }
        return try await withThrowingTaskGroup(of: Result.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await Task.sleep(for: .milliseconds(milliseconds))
                throw RPCError(code: .deadlineExceeded, message: "the command's deadline of \(milliseconds) ms passed")
            }
            defer { group.cancelAll() }
            guard let first = try await group.next() else {
                throw RPCError(code: .internalError, message: "a command ended without an answer")
            }
            return first
        }
    }
}

private enum BranchCallPart: Sendable {
    case writer, commands, shutdownWatch
}
