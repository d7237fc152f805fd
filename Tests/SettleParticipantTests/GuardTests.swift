import ExampleBank
import Foundation
import GRPCCore
import Logging
import PostgresClient
import SettleParticipant
import SettleProtocol
import SettleTestSupport
import Testing

/// Authentication, request bounds and start-up refusals: bad input gets a clear error and
/// touches nothing.
@Suite("participant guards", .timeLimit(.minutes(5)))
struct GuardTests {
    @Test func callsWithoutTheRightTokenAreUnauthenticated() async throws {
        try await withBank { bank throws in
            let request = Settle_V1_PrepareRequest.with {
                $0.gid = gid("auth")
                $0.action = "debit"
                $0.payload = movement("a", 100)
            }
            let attempts: [Metadata] = [
                [:], ["authorization": "Bearer wrong"], ["authorization": "\(coordinatorToken)"],
                ["authorization": "Bearer \(coordinatorToken)x"],
            ]
            for metadata in attempts {
                let failure = await rpcFailure { _ = try await bank.client.prepare(request, metadata: metadata) }
                #expect(failure?.code == .unauthenticated, "\(metadata)")
            }
            let health = await rpcFailure { _ = try await bank.client.health(.init()) }
            #expect(health?.code == .unauthenticated)
            #expect(try await bank.prepared().isEmpty)
            #expect(try await bank.barrier(gid("auth")).isEmpty)
            #expect(try await bank.balance("a") == 1000)
        }
    }

    @Test func requestsBeyondTheirLimitsAreInvalidArgumentsAndTouchNothing() async throws {
        try await withBank(configure: { $0.payloadBytesMax = 1024 }) { bank throws in
            let oversized = Data(#"{"account":"a","amount":1,"pad":""#.utf8) + Data(repeating: 0x61, count: 1024) + Data(#""}"#.utf8)
            let cases: [(String, String, Data, String)] = [
                ("payload over the limit", gid("big"), oversized, "at most 1024"),
                ("malformed gid", "not-a-gid", movement("a", 1), "gid"),
                ("gid over 199 bytes", "settle:test-coordinator:" + String(repeating: "x", count: 180) + ":0", movement("a", 1), "gid"),
                ("malformed JSON", gid("json"), Data("{".utf8), "not a valid Movement"),
                ("missing field", gid("field"), Data(#"{"account":"a"}"#.utf8), "amount"),
            ]
            for (name, gid, payload, mention) in cases {
                let failure = await rpcFailure { _ = try await bank.client.prepare(gid, "debit", payload) }
                #expect(failure?.code == .invalidArgument, "\(name)")
                #expect(failure?.message.contains(mention) == true, "\(name): \(String(describing: failure?.message))")
            }
            let badName = await rpcFailure { _ = try await bank.client.prepare(gid("name"), "Debit!", movement("a", 1)) }
            #expect(badName?.code == .invalidArgument)
            #expect(badName?.message.contains("[a-z0-9._-]{1,64}") == true)
            let unknown = await rpcFailure { _ = try await bank.client.prepare(gid("unknown"), "teleport", movement("a", 1)) }
            #expect(unknown?.code == .notFound)
            #expect(unknown?.message.contains("teleport") == true)
            #expect(unknown?.message.contains("debit") == true, "names what is registered")
            let unknownCompensation = await rpcFailure {
                _ = try await bank.client.compensate(gid("unknown"), "undo-everything", movement("a", 1))
            }
            #expect(unknownCompensation?.code == .notFound)
            let badPrefix = await rpcFailure { _ = try await bank.client.inDoubt("") }
            #expect(badPrefix?.code == .invalidArgument)

            #expect(try await bank.prepared().isEmpty)
            #expect(try await bank.pool.query("SELECT count(*)::bigint AS n FROM settle_barrier")[0].decode(Int64.self, column: "n") == 0)
            #expect(try await bank.balance("a") == 1000)
        }
    }

    /// A database short of a resource others free within seconds (prepared-transaction slots,
    /// shared memory for locks: SQLSTATE 53200) is a reason to try again, not a refusal: the
    /// coordinator retries a RESOURCE_EXHAUSTED Prepare until the transfer's deadline, where an
    /// internal error would have aborted the transfer at once. A configured limit is not.
    @Test func aDatabaseOutOfAResourceAsksForARetryAndKeepsNothing() async throws {
        try await withBank(registerMore: { participant in
            participant.action("exhausting", payload: Movement.self) { transaction, _ in
                _ = try await transaction.query(
                    "DO $$ BEGIN RAISE EXCEPTION 'maximum number of prepared transactions reached' USING ERRCODE = '53200'; END $$"
                )
            }
            // A configured limit the same statement meets every time: no retry would help.
            participant.action("over-a-limit", payload: Movement.self) { transaction, _ in
                _ = try await transaction.query(
                    "DO $$ BEGIN RAISE EXCEPTION 'temporary file size exceeds temp_file_limit' USING ERRCODE = '53400'; END $$"
                )
            }
        }) { bank throws in
            let failure = await rpcFailure { _ = try await bank.client.prepare(gid("exhausted"), "exhausting", movement("a", 1)) }
            #expect(failure?.code == .resourceExhausted, "\(String(describing: failure))")
            #expect(failure?.message.contains("maximum number of prepared transactions reached") == true)
            let limited = await rpcFailure { _ = try await bank.client.prepare(gid("limited"), "over-a-limit", movement("a", 1)) }
            #expect(limited?.code == .internalError, "\(String(describing: limited))")
            #expect(limited?.message.contains("temp_file_limit") == true)
            #expect(try await bank.prepared().isEmpty)
            #expect(try await bank.barrier(gid("exhausted")).isEmpty)
            #expect(try await bank.barrier(gid("limited")).isEmpty)
        }
    }

    /// One connection beyond the cap is closed as soon as it is accepted; the others keep serving.
    @Test func connectionsBeyondTheCapAreClosed() async throws {
        try await withBank(configure: { $0.connectionsMax = 2 }) { bank throws in
            _ = try await bank.client.inDoubt("settle:test-coordinator:")
            _ = try await bank.phaseTwoClient.inDoubt("settle:test-coordinator:")
            let port = bank.port
            let third = await rpcFailure {
                try await withGRPCClient(
                    transport: .http2NIOPosix(target: .ipv4(address: "127.0.0.1", port: port), transportSecurity: .plaintext)
                ) { client in
                    var options = CallOptions.defaults
                    options.timeout = .seconds(5)
                    _ = try await Settle_V1_Participant.Client(wrapping: client).inDoubt(
                        .with { $0.gidPrefix = "settle:test-coordinator:" }, metadata: authorized, options: options
                    )
                }
            }
            #expect(third?.code == .unavailable || third?.code == .deadlineExceeded, "\(String(describing: third))")
            #expect(try await bank.client.inDoubt("settle:test-coordinator:").isEmpty, "the first two still serve")
            let refused = try bank.metrics.expectCounter(
                "settle_participant_operations_total",
                [("participant", "bank-test"), ("operation", "connect"), ("outcome", "error-too-many-connections")]
            )
            #expect(refused.totalValue >= 1)
        }
    }

    @Test func aDatabaseWithoutPreparedTransactionsRefusesToStart() async throws {
        let url = try TestClusters.noPreparedTransactionsURL()
        let pool = PostgresPool(configuration: .init(connectionString: url, connectionsMax: 2))
        let participant = Participant(
            name: "bank-refused", database: pool, configuration: .init(coordinators: testCoordinators),
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        )
        ExampleBank.register(on: participant)
        let error = await #expect(throws: ParticipantError.self) {
            _ = try await participant.start(host: "127.0.0.1", port: 0)
        }
        #expect(error?.code == .startupRefused)
        #expect(error?.message.contains("max_prepared_transactions = 0") == true)
        #expect(error?.message.contains("set max_prepared_transactions") == true, "says what to change")
        await pool.close()
    }

    @Test func operationsAreCountedByOutcome() async throws {
        try await withBank { bank throws in
            _ = try await bank.client.prepare(gid("m1"), "debit", movement("a", 1))
            _ = try await bank.client.prepare(gid("m2"), "debit", movement("b", 100_000))
            _ = try await bank.client.commit(gid("m1"))
            _ = await rpcFailure { _ = try await bank.client.prepare("bad", "debit", movement("a", 1)) }
            func count(_ operation: String, _ outcome: String) throws -> Int64 {
                let counter = try bank.metrics.expectCounter(
                    "settle_participant_operations_total",
                    [("participant", "bank-test"), ("operation", operation), ("outcome", outcome)]
                )
                return counter.totalValue
            }
            #expect(try count("prepare", "prepared") == 1)
            #expect(try count("prepare", "refused") == 1)
            #expect(try count("commit", "committed") == 1)
            #expect(try count("prepare", "error-invalidArgument") == 1)
            let timer = try bank.metrics.expectTimer("settle_participant_prepare_duration", [("participant", "bank-test")])
            #expect(timer.values.count == 2)
            #expect(timer.values.allSatisfy { $0 > 0 })
        }
    }

    /// ExampleBank refuses an amount outside 1...amountMax as a business answer that names the
    /// bound, before touching a row.
    @Test(arguments: [Int64(0), -5, Movement.amountMax + 1, .min, .max])
    func amountsOutOfBoundsAreRefused(_ amount: Int64) async throws {
        try await withBank { bank throws in
            for action in ["debit", "credit"] {
                let answer = try await bank.client.prepare(gid("amount-\(action)"), action, movement("a", amount))
                #expect(answer.outcome == .refused && answer.refusalKind == .business, "\(action) \(amount)")
                #expect(answer.reason.contains("amount must be 1 to \(Movement.amountMax) minor units"), "\(answer.reason)")
            }
            #expect(try await bank.balance("a") == 1000)
            #expect(try await bank.prepared().isEmpty)
        }
    }

    /// A request larger than `messageBytesMax` is refused by the transport before it is decoded.
    @Test func aMessageOverMessageBytesMaxIsRefused() async throws {
        try await withBank(configure: { $0.messageBytesMax = 4096 }) { bank throws in
            let padded = Data(#"{"account":"a","amount":1,"pad":""#.utf8) + Data(repeating: 0x61, count: 8192) + Data(#""}"#.utf8)
            let failure = await rpcFailure { _ = try await bank.client.prepare(gid("huge"), "debit", padded) }
            // grpc-swift resets the stream of an oversized message (RST_STREAM): the client sees
            // UNAVAILABLE rather than RESOURCE_EXHAUSTED, and nothing reached the handler.
            #expect(failure?.code == .unavailable, "\(String(describing: failure))")
            #expect(failure?.message.contains("RST_STREAM") == true, "\(String(describing: failure))")
            #expect(try await bank.pool.query("SELECT count(*)::bigint AS n FROM settle_barrier")[0].decode(Int64.self, column: "n") == 0)
            #expect(try await bank.client.prepare(gid("small"), "debit", movement("a", 1)).outcome == .prepared, "the connection still serves")
            #expect(try await bank.client.rollback(gid("small")) == .rolledBack)
        }
    }

    /// With `concurrentCallsPerConnectionMax` 1, a second call on the same connection waits for
    /// the first instead of running beside it: two prepares that each sleep two seconds in their
    /// transaction take at least four. (A lower bound: load can only make it longer.)
    @Test func callsBeyondTheLimitPerConnectionWaitTheirTurn() async throws {
        try await withBank(faults: FaultInjection(delays: ["debit": .seconds(2)]), configure: { $0.concurrentCallsPerConnectionMax = 1 }) {
            bank throws in
            let started = ContinuousClock.now
            async let first = bank.client.prepare(gid("turn", 0), "debit", movement("a", 1))
            async let second = bank.client.prepare(gid("turn", 1), "debit", movement("b", 1))
            let answers = try await [first, second]
            #expect(answers.map(\.outcome) == [.prepared, .prepared])
            #expect(ContinuousClock.now - started >= .seconds(4), "the two ran one after the other")
            for branch in 0..<2 { #expect(try await bank.phaseTwoClient.rollback(gid("turn", branch)) == .rolledBack) }
        }
    }
}
