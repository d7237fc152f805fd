import ExampleBank
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import SettleAuth
import SettleParticipant
import SettleProtocol
import SettleTestSupport
import Testing

/// The `Branches` call: many commands over one stream, each answered as its unary RPC would be.
@Suite("participant Branches call", .timeLimit(.minutes(5)))
struct BranchesCallTests {
    @Test func eachCommandIsAnsweredAsItsUnaryCallWouldBeAndOneFailureFailsNoOther() async throws {
        try await withBank { bank throws in
            var unsigned = Settle_V1_PrepareRequest()
            unsigned.gid = gid("unsigned")
            unsigned.action = "debit"
            unsigned.payload = movement("a", 7)
            var foreign = try prepareRequest(gid("foreign"), "debit", movement("a", 9))
            foreign.gid = "settle:other-coordinator:1:0000000000000001:foreign:0"
            var rollback = Settle_V1_RollbackRequest()
            rollback.gid = gid("never-prepared")
            rollback.order = try signedOrder(.rollback, rollback.gid)
            let answers = try await branches(
                on: bank.client,
                [
                    .prepare(try prepareRequest(gid("good"), "debit", movement("a", 100))), .prepare(unsigned), .prepare(foreign),
                    .rollback(rollback), nil,
                ]
            )
            guard case .prepare(let prepared) = answers[1] else { Issue.record("answer 1: \(String(describing: answers[1]))"); return }
            #expect(prepared.outcome == .prepared)
            #expect(errorCode(answers[2]) == .unauthenticated, "an unsigned prepare, as its unary call")
            #expect(errorCode(answers[3]) == .permissionDenied, "another coordinator's gid")
            guard case .rollback(let rolledBack) = answers[4] else { Issue.record("answer 4: \(String(describing: answers[4]))"); return }
            #expect(rolledBack.outcome == .rolledBack)
            #expect(errorCode(answers[5]) == .invalidArgument, "a command naming no command")
            #expect(try await bank.prepared() == [gid("good")], "only the good prepare is held")
            #expect(try await bank.barrier(gid("never-prepared")) == ["action", "cancelled"])

            var commit = Settle_V1_CommitRequest()
            commit.gid = gid("good")
            commit.order = try signedOrder(.commit, commit.gid)
            let committed = try await branches(on: bank.phaseTwoClient, [.commit(commit)])
            #expect(committed[1] == .commit(.with { $0.outcome = .committed }))
            #expect(try await bank.balance("a") == 900)
        }
    }

    /// The coordinator sends batch seals only to a participant that says it accepts them.
    @Test func theCallSaysTheParticipantAcceptsBatchSeals() async throws {
        try await withBank { bank throws in
            let announced = try await bank.client.branches(
                metadata: authorized, requestProducer: { _ in },
                onResponse: { response in
                    for try await _ in response.messages {}
                    return response.metadata[stringValues: OrderBatchSeal.acceptanceHeader].map { $0 }
                }
            )
            #expect(announced == [OrderBatchSeal.acceptanceValue])
        }
    }

    @Test func aCommandPastItsDeadlineIsCancelledWhileTheCallGoesOn() async throws {
        try await withBank(faults: FaultInjection(delays: ["debit": .seconds(5)])) { bank throws in
            let started = ContinuousClock.now
            let answers = try await branches(
                on: bank.client,
                [
                    .prepare(try prepareRequest(gid("slow"), "debit", movement("a", 5))),
                    .prepare(try prepareRequest(gid("quick"), "credit", movement("b", 5))),
                ],
                timeoutMilliseconds: [1: 300]
            )
            #expect(errorCode(answers[1]) == .deadlineExceeded)
            #expect(ContinuousClock.now - started < .seconds(5), "answered at its deadline, not when the action ended")
            #expect(answers[2] == .prepare(.with { $0.outcome = .prepared }), "the other command on the call was answered")
            #expect(try await bank.prepared() == [gid("quick")], "the cancelled prepare holds nothing")
        }
    }

    /// A coordinator keeps its call open for as long as it runs: a participant asked to stop must
    /// end the call rather than wait for it.
    @Test func aGracefulShutdownEndsAnOpenCall() async throws {
        let (ending, ended) = AsyncStream.makeStream(of: RPCError.Code?.self)
        try await withBank { bank throws in
            let transport = try HTTP2ClientTransport.Posix.http2NIOPosix(
                target: .ipv4(address: "127.0.0.1", port: bank.port), transportSecurity: .plaintext
            )
            let client = GRPCClient(transport: transport)
            let connections = Task { try await client.runConnections() }
            let answered = AsyncStream.makeStream(of: Void.self)
            // Outlives the body: the call is still open when withBank shuts the participant down.
            Task {
                do {
                    try await Settle_V1_Participant.Client(wrapping: client).branches(
                        metadata: authorized,
                        requestProducer: { writer in
                            var command = Settle_V1_BranchCommand()
                            command.id = 1
                            command.command = .prepare(try prepareRequest(gid("open"), "credit", movement("b", 1)))
                            try await writer.write(command)
                            try await Task.sleep(for: .seconds(600))
                        },
                        onResponse: { response in
                            for try await _ in response.messages { answered.continuation.yield() }
                        }
                    )
                    ended.yield(nil)
                } catch let error as RPCError {
                    ended.yield(error.code)
                }
                client.beginGracefulShutdown()
                _ = try? await connections.value
            }
            for await _ in answered.stream { break }
        }
        // withBank returned: its server stopped although the call never ended from this side.
        var codes = ending.makeAsyncIterator()
        #expect(await codes.next() == .unavailable)
    }
}

extension BranchesCallTests {
    /// A caller that sends commands and never reads the answers holds at most the call's command
    /// slots (running, or answered and not yet written): the participant stops reading, instead
    /// of answering everything into memory.
    @Test func aCallerThatReadsNoAnswerIsNotServedWithoutBound() async throws {
        try await withBank { bank throws in
            let sent = 5000
            let stopReading = AsyncStream.makeStream(of: Void.self)
            // A small window: the transport must not absorb the answers the caller does not read.
            var configuration = HTTP2ClientTransport.Posix.Config.defaults
            configuration.http2.targetWindowSize = 65_535
            let client = GRPCClient(
                transport: try .http2NIOPosix(
                    target: .ipv4(address: "127.0.0.1", port: bank.port), transportSecurity: .plaintext, config: configuration
                )
            )
            let connections = Task { try await client.runConnections() }
            let call = Task {
                try await Settle_V1_Participant.Client(wrapping: client).branches(
                    metadata: authorized,
                    requestProducer: { writer in
                        for index in 0..<sent {
                            var command = Settle_V1_BranchCommand()
                            command.id = UInt64(index + 1)
                            // Another coordinator's gid: refused before any SQL, so each costs nothing.
                            command.command = .commit(.with { $0.gid = "settle:other-coordinator:1:0000000000000001:t\(index):0" })
                            try await writer.write(command)
                        }
                    },
                    onResponse: { _ in
                        for await _ in stopReading.stream {}
                    }
                )
            }
            try await Task.sleep(for: .seconds(3))
            let answered = try bank.metrics.expectCounter(
                "settle_participant_operations_total",
                [("participant", testParticipant), ("operation", "commit"), ("outcome", "error-permissionDenied")]
            ).totalValue
            #expect(answered > 0, "the call was served")
            #expect(answered < sent - 1000, "\(answered) of \(sent) answered with nobody reading")
            call.cancel()
            stopReading.continuation.finish()
            _ = try? await call.value
            client.beginGracefulShutdown()
            _ = try? await connections.value
        }
    }
}

func prepareRequest(_ gid: String, _ action: String, _ payload: Data) throws -> Settle_V1_PrepareRequest {
    var request = Settle_V1_PrepareRequest()
    request.gid = gid
    request.action = action
    request.payload = payload
    request.order = try signedOrder(.prepare, gid, work: SignedOrder.workDigest(name: action, payload: payload))
    return request
}

func errorCode(_ answer: Settle_V1_BranchAnswer.OneOf_Answer?) -> RPCError.Code? {
    guard case .error(let error) = answer else { return nil }
    return Status.Code(rawValue: Int(error.code)).flatMap(RPCError.Code.init)
}

/// Sends `commands` (ids 1, 2, …) on one `Branches` call and returns the answers by id.
func branches(
    on client: Settle_V1_Participant.Client<HTTP2ClientTransport.Posix>, _ commands: [Settle_V1_BranchCommand.OneOf_Command?],
    timeoutMilliseconds: [UInt64: UInt32] = [:]
) async throws -> [UInt64: Settle_V1_BranchAnswer.OneOf_Answer] {
    try await client.branches(
        metadata: authorized,
        requestProducer: { writer in
            for (index, command) in commands.enumerated() {
                var message = Settle_V1_BranchCommand()
                message.id = UInt64(index + 1)
                message.command = command
                message.timeoutMs = timeoutMilliseconds[message.id] ?? 0
                try await writer.write(message)
            }
        },
        onResponse: { response in
            var answers: [UInt64: Settle_V1_BranchAnswer.OneOf_Answer] = [:]
            for try await answer in response.messages { answers[answer.id] = answer.answer }
            return answers
        }
    )
}
