import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import GRPCProtobuf
import SettleAuth
import SettleProtocol
import SettleCore
import SignedLog
import Synchronization
import Testing

@testable import SettleCoordinator

/// How settled sends Prepares, Commits and Rollbacks: as commands of one long-lived `Branches`
/// call per kind, falling back to unary calls for a participant that lacks it.
@Suite("branch commands over one call", .timeLimit(.minutes(3)))
struct BranchStreamTests {
    @Test func concurrentCommitsTravelAsCommandsOfOneCall() async throws {
        try await withFakeParticipant(.answering) { participant, participants throws in
            let outcomes = try await withThrowingTaskGroup(of: CommitAnswer.self) { group in
                for index in 0..<50 {
                    group.addTask { try await participants.commit("fake", gid: "settle:test:1:01:t\(index):0", decisionLSN: 7) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(outcomes.count == 50 && outcomes.allSatisfy { $0 == .committed })
            #expect(participant.counts.withLock { $0 } == Counts(branchesCalls: 1, commands: 50, unaryCalls: 0))
        }
    }

    /// A participant built before batch seals would refuse them: only one that says it accepts
    /// them, when its call opens, is sent any.
    @Test(arguments: [false, true]) func batchSealsGoOnlyToAParticipantThatAnnouncesThem(announces: Bool) async throws {
        try await withFakeParticipant(.answering, announcesBatchSeals: announces) { participant, participants throws in
            #expect(try await participants.commit("fake", gid: "settle:test:1:01:opening:0", decisionLSN: 7) == .committed)
            #expect(participants.links["fake"]?.sealSupport.acceptsBatchSeals == announces)
            try await withThrowingDiscardingTaskGroup { group in
                for index in 0..<100 {
                    group.addTask { _ = try await participants.commit("fake", gid: "settle:test:1:01:s\(index):0", decisionLSN: 7) }
                }
            }
            let lengths = participant.sealLengths.withLock { $0 }
            #expect(lengths.count == 101)
            #expect(lengths.first == Ed25519.signatureByteCount, "before the participant has said anything")
            if announces {
                #expect(lengths.contains { $0 > Ed25519.signatureByteCount }, "commits asked for together share a batch seal")
            } else {
                #expect(lengths.allSatisfy { $0 == Ed25519.signatureByteCount })
            }
        }
    }

    @Test func aParticipantWithoutTheCallIsSentUnaryCalls() async throws {
        try await withFakeParticipant(.unaryOnly) { participant, participants throws in
            #expect(try await participants.commit("fake", gid: "settle:test:1:01:first:0", decisionLSN: 7) == .committed)
            #expect(try await participants.commit("fake", gid: "settle:test:1:01:second:0", decisionLSN: 7) == .committed)
            #expect(participant.counts.withLock { $0 } == Counts(branchesCalls: 1, commands: 0, unaryCalls: 2), "asked once, then unary")
        }
    }

    /// The deadline is long enough for the call to open even on a loaded CI machine: a command
    /// whose deadline passes before it is written is never sent (by design), and with 300 ms a
    /// fresh-clone CI run once saw exactly that, so the "sent and unanswered" path went untested.
    @Test func anUnansweredCommandFailsAtItsDeadlineAsATransientFailure() async throws {
        try await withFakeParticipant(.silent, callTimeout: .seconds(2)) { participant, participants throws in
            let started = ContinuousClock.now
            do {
                _ = try await participants.commit("fake", gid: "settle:test:1:01:lost:0", decisionLSN: 7)
                Issue.record("a command nobody answered was answered")
            } catch let error as ParticipantCallError {
                #expect(error.isTransient, "\(error)")
                #expect(error.message.hasPrefix("deadlineExceeded"), "\(error)")
            }
            #expect(ContinuousClock.now - started < .seconds(10))
            #expect(participant.counts.withLock { $0.commands } == 1)
        }
    }
}

extension BranchStreamTests {
    /// A participant that refuses the call itself (here: a token it does not know) refuses every
    /// command as its unary call would have, permanently, rather than as a transient failure.
    @Test func aRefusedCallRefusesItsCommandsWithTheCallsStatus() async throws {
        try await withFakeParticipant(.refusing) { _, participants throws in
            do {
                _ = try await participants.commit("fake", gid: "settle:test:1:01:refused:0", decisionLSN: 7)
                Issue.record("a command on a refused call was answered")
            } catch let error as ParticipantCallError {
                #expect(!error.isTransient, "\(error)")
                #expect(error.message.hasPrefix("unauthenticated"), "\(error)")
            }
        }
    }

    /// A participant that takes commands and never answers: once commands pass their deadlines
    /// with nothing answered for `stallLimit`, the call is abandoned and the next command opens a
    /// new one, so settled does not queue retries behind a wedged peer for ever.
    @Test func aCallThatAnswersNothingIsAbandonedAndReopened() async throws {
        try await withFakeParticipant(.silent) { participant, participants throws in
            let link = try #require(participants.links["fake"])
            let stream = BranchStream(
                method: Settle_V1_Participant.Method.Commit.descriptor, participant: "fake", client: link.phaseTwo,
                metadata: link.metadata, stallLimit: .milliseconds(300)
            )
            // Each deadline is long enough for a command to be written, on a new call too, even on
            // a loaded machine (one never written is never counted below: with 1 s, a full suite
            // run in parallel once saw three of four expire unwritten), and longer than the stall
            // limit.
            try await withThrowingDiscardingTaskGroup { group in
                group.addTask { await stream.run() }
                for index in 0..<4 {
                    let commit = Settle_V1_CommitRequest.with { $0.gid = "settle:test:1:01:wedged\(index):0" }
                    await #expect(throws: RPCError.self) {
                        try await stream.send(.commit(commit), timeout: .milliseconds(2500))
                    }
                }
                stream.shutDown()
            }
            #expect(participant.counts.withLock { $0.branchesCalls } >= 2, "the silent call was abandoned and another opened")
            // Commands reached both calls; one sent while the abandoned call was being torn down
            // fails without reaching either, so not all four need arrive.
            #expect(participant.counts.withLock { $0.commands } >= 2)
        }
    }
}

struct Counts: Equatable {
    var branchesCalls = 0
    var commands = 0
    var unaryCalls = 0
}

/// A participant that only counts: it answers every Commit COMMITTED, over `Branches` or unary.
final class FakeParticipant: RegistrableRPCService, Sendable {
    enum Mode { case answering, unaryOnly, silent, refusing }

    let mode: Mode
    let counts = Mutex(Counts())
    /// Says, as a participant of this release does, that it accepts batch seals.
    let announcesBatchSeals: Bool
    /// The length of each Commit's order signature, as received over `Branches`.
    let sealLengths = Mutex<[Int]>([])

    init(_ mode: Mode, announcesBatchSeals: Bool = false) {
        self.mode = mode
        self.announcesBatchSeals = announcesBatchSeals
    }

    func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
        typealias Method = Settle_V1_Participant.Method
        let committed = Settle_V1_CommitResponse.with { $0.outcome = .committed }
        router.registerHandler(
            forMethod: Method.Commit.descriptor, deserializer: ProtobufDeserializer<Settle_V1_CommitRequest>(),
            serializer: ProtobufSerializer<Settle_V1_CommitResponse>()
        ) { request, _ in
            for try await _ in request.messages {}
            self.counts.withLock { $0.unaryCalls += 1 }
            return StreamingServerResponse(single: ServerResponse(message: committed))
        }
        router.registerHandler(
            forMethod: Method.Branches.descriptor, deserializer: ProtobufDeserializer<Settle_V1_BranchCommand>(),
            serializer: ProtobufSerializer<Settle_V1_BranchAnswer>()
        ) { request, _ in
            self.counts.withLock { $0.branchesCalls += 1 }
            guard self.mode != .unaryOnly else { throw RPCError(code: .unimplemented, message: "no Branches here") }
            guard self.mode != .refusing else { throw RPCError(code: .unauthenticated, message: "unknown token") }
            var announcement = Metadata()
            if self.announcesBatchSeals { announcement.addString(OrderBatchSeal.acceptanceValue, forKey: OrderBatchSeal.acceptanceHeader) }
            return StreamingServerResponse(metadata: announcement) { writer in
                for try await command in request.messages {
                    self.counts.withLock { $0.commands += 1 }
                    if case .commit(let commit) = command.command { self.sealLengths.withLock { $0.append(commit.order.signature.count) } }
                    if self.mode == .answering {
                        try await writer.write(
                            .with {
                                $0.id = command.id
                                $0.gid = command.gid
                                $0.answer = .commit(committed)
                            })
                    }
                }
                return [:]
            }
        }
    }
}

/// A `GRPCParticipants` whose one participant, "fake", is `FakeParticipant` on loopback.
func withFakeParticipant(
    _ mode: FakeParticipant.Mode, callTimeout: Duration = .seconds(10), announcesBatchSeals: Bool = false,
    _ body: (FakeParticipant, GRPCParticipants) async throws -> Void
) async throws {
    let participant = FakeParticipant(mode, announcesBatchSeals: announcesBatchSeals)
    let server = GRPCServer(
        transport: .http2NIOPosix(address: .ipv4(host: "127.0.0.1", port: 0), transportSecurity: .plaintext),
        services: [participant]
    )
    try await withThrowingDiscardingTaskGroup { group in
        group.addTask { try await server.serve() }
        guard let port = try await server.listeningAddress?.ipv4?.port else { throw RPCError(code: .internalError, message: "no port") }
        let link = try ParticipantLink(
            .init(name: "fake", address: "127.0.0.1:\(port)", credential: TokenSource(token: "fake-token-0123456789abcdef")),
            callsInFlightMax: 64, epoch: 1
        )
        group.addTask { try await link.run() }
        let participants = GRPCParticipants(
            links: ["fake": link], callTimeout: callTimeout, signer: OrderSigner(key: try SigningKey.generate())
        )
        try await body(participant, participants)
        link.shutDown()
        server.beginGracefulShutdown()
    }
}
