import ExampleBank
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import MetricsTestKit
import PostgresClient
import SettleAuth
import SettleParticipant
import SettleProtocol
import SettleTestSupport
import SignedLog
import Testing

let coordinatorToken = "test-coordinator-token-0123456789"
let authorized: Metadata = ["authorization": "Bearer \(coordinatorToken)"]
/// The test coordinator's log key: the helpers below sign their phase-two orders with it.
let coordinatorKey: SigningKey = {
    do { return try SigningKey.generate() } catch { fatalError("cannot generate a test key: \(error)") }
}()

/// The one coordinator test banks serve: `gid(_:)` names its gids.
var testCoordinators: [CoordinatorCredential] {
    [
        CoordinatorCredential(
            id: "test-coordinator", tokenDigest: TokenSource.digest(ofToken: coordinatorToken), publicKeys: [coordinatorKey.verifyingKey]
        )
    ]
}

/// A coordinators file naming the test coordinator (for example-bank processes); returns its path.
func writeTestCoordinatorsFile(in directory: TemporaryDirectory) throws -> String {
    let publicKey = directory.subpath("coordinator.pub.pem")
    try writeBytes(try coordinatorKey.verifyingKey.pemBytes(), to: publicKey)
    let path = directory.subpath("coordinators.json")
    try CoordinatorsFile.write(path, coordinators: [(id: "test-coordinator", token: coordinatorToken, publicKeyFile: publicKey)])
    return path
}

/// An order as the coordinator sends it: signed over the command, the gid, a decision LSN and, for
/// compensations, the work.
func signedOrder(
    _ command: SignedOrder.Command, _ gid: String, lsn: UInt64 = 1, work: [UInt8]? = nil, key: SigningKey = coordinatorKey,
    participant: String = testParticipant
) throws -> Settle_V1_SignedOrder {
    var order = Settle_V1_SignedOrder()
    order.decisionLsn = lsn
    order.signature = Data(
        try SignedOrder(command: command, participant: participant, gid: gid, decisionLSN: lsn, work: work).signature(with: key)
    )
    return order
}

/// Every test participant, in process or not, goes by this name: orders are signed for it.
let testParticipant = "bank-test"

/// An ExampleBank participant served over real gRPC on loopback, with a client for it.
struct Bank: Sendable {
    let database: ScratchDatabase
    let pool: PostgresPool
    let client: Settle_V1_Participant.Client<HTTP2ClientTransport.Posix>
    /// A second connection, as the coordinator keeps for phase two: Commits never queue behind
    /// Prepares that wait for the rows those Commits release.
    let phaseTwoClient: Settle_V1_Participant.Client<HTTP2ClientTransport.Posix>
    let metrics: TestMetrics
    /// The participant server's port on 127.0.0.1.
    let port: Int

    /// Prepared transactions of this bank's database.
    func prepared() async throws -> [String] {
        try await pool.query(
            "SELECT gid FROM pg_prepared_xacts WHERE database = current_database() ORDER BY gid"
        ).map { try $0.decode(String.self, column: "gid") }
    }

    func barrier(_ gid: String) async throws -> [String] {
        try await pool.query("SELECT op FROM settle_barrier WHERE gid = $1 ORDER BY op", [gid])
            .map { try $0.decode(String.self, column: "op") }
    }

    func balance(_ account: String) async throws -> Int64? {
        try await BankSchema.balance(pool, account: account)
    }

    /// Other sessions of this bank's database in `state` (pg_stat_activity).
    func sessions(inState state: String) async throws -> Int64 {
        try await pool.query(
            "SELECT count(*)::int8 AS n FROM pg_stat_activity WHERE datname = current_database() AND state = $1 AND pid <> pg_backend_pid()",
            [state]
        )[0].decode(column: "n")
    }

    /// Sessions of this bank's database waiting for a lock.
    func sessionsWaitingOnALock() async throws -> Int64 {
        try await pool.query(
            "SELECT count(*)::int8 AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )[0].decode(column: "n")
    }

    func postings(_ gid: String) async throws -> [String] {
        try await pool.query("SELECT kind FROM postings WHERE gid = $1 ORDER BY kind", [gid])
            .map { try $0.decode(String.self, column: "kind") }
    }
}

/// Runs `body` against a fresh ExampleBank with accounts `a` (1000) and `b` (500).
func withBank(
    poolSize: Int = 8,
    faults: FaultInjection = .none,
    configure: (inout ParticipantConfiguration) -> Void = { _ in },
    registerMore: (Participant) -> Void = { _ in },
    _ body: (Bank) async throws -> Void
) async throws {
    let database = try await ScratchDatabase.create()
    // Generous: the whole suite runs in parallel on two cores, and these tests check outcomes, not latency.
    let pool = PostgresPool(
        configuration: .init(connectionString: database.url, connectionsMax: poolSize, acquireTimeout: .seconds(30))
    )
    do {
        try await BankSchema.migrate(pool)
        try await BankSchema.seed(pool, accounts: [("a", 1000), ("b", 500)])
        var configuration = ParticipantConfiguration(coordinators: testCoordinators)
        configure(&configuration)
        let metrics = TestMetrics()
        let participant = Participant(
            name: testParticipant, database: pool, configuration: configuration,
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }), metricsFactory: metrics
        )
        ExampleBank.register(on: participant, faults: faults)
        registerMore(participant)
        let server = try await participant.start(host: "127.0.0.1", port: 0)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.run() }
            let port = try await server.listeningPort
            let transport = {
                try HTTP2ClientTransport.Posix.http2NIOPosix(
                    target: .ipv4(address: "127.0.0.1", port: port), transportSecurity: .plaintext
                )
            }
            try await withGRPCClient(transport: transport()) { grpcClient in
                try await withGRPCClient(transport: transport()) { phaseTwo in
                    try await body(
                        Bank(
                            database: database, pool: pool, client: .init(wrapping: grpcClient),
                            phaseTwoClient: .init(wrapping: phaseTwo), metrics: metrics, port: port
                        )
                    )
                }
            }
            server.beginGracefulShutdown()
            try await group.waitForAll()
        }
        await pool.close()
        await database.drop()
    } catch {
        await pool.close()
        await database.drop()
        throw error
    }
}

/// A well-formed gid (protocol/gid.md) of the test coordinator's first admission of `transfer`.
func gid(_ transfer: String, _ branch: Int = 0, nonce: String = "0000000000000001") -> String {
    "settle:test-coordinator:1:\(nonce):\(transfer):\(branch)"
}

/// Sorted keys: JSONEncoder's key order can differ between two encodings of one value, and the
/// participant binds a gid to the exact payload bytes (a retry must send the same bytes).
func movement(_ account: String, _ amount: Int64) -> Data {
    let encoder = JSONEncoder()
    encoder.outputFormatting = .sortedKeys
    return try! encoder.encode(Movement(account: account, amount: amount))
}

extension Settle_V1_Participant.Client where Transport == HTTP2ClientTransport.Posix {
    /// - Parameter senderEpoch: the lease epoch the coordinator says it acts under (its
    ///   settle-coordinator-epoch header); nil sends none, as a coordinator before failover did.
    func prepare(_ gid: String, _ action: String, _ payload: Data, senderEpoch: UInt32? = nil) async throws -> Settle_V1_PrepareResponse {
        var request = Settle_V1_PrepareRequest()
        request.gid = gid
        request.action = action
        request.payload = payload
        request.order = try signedOrder(.prepare, gid, work: SignedOrder.workDigest(name: action, payload: payload))
        var metadata = authorized
        if let senderEpoch { metadata.addString("\(senderEpoch)", forKey: "settle-coordinator-epoch") }
        return try await prepare(request, metadata: metadata)
    }

    func commit(_ gid: String) async throws -> Settle_V1_CommitResponse.Outcome {
        var request = Settle_V1_CommitRequest()
        request.gid = gid
        request.order = try signedOrder(.commit, gid)
        return try await commit(request, metadata: authorized).outcome
    }

    func rollback(_ gid: String) async throws -> Settle_V1_RollbackResponse.Outcome {
        var request = Settle_V1_RollbackRequest()
        request.gid = gid
        request.order = try signedOrder(.rollback, gid)
        return try await rollback(request, metadata: authorized).outcome
    }

    func compensate(_ gid: String, _ compensation: String, _ payload: Data) async throws -> Settle_V1_CompensateResponse {
        var request = Settle_V1_CompensateRequest()
        request.gid = gid
        request.compensation = compensation
        request.payload = payload
        request.order = try signedOrder(.compensate, gid, work: SignedOrder.workDigest(name: compensation, payload: payload))
        return try await compensate(request, metadata: authorized)
    }

    func inDoubt(_ prefix: String) async throws -> [Settle_V1_InDoubtResponse.Branch] {
        try await inDoubt(.with { $0.gidPrefix = prefix }, metadata: authorized).branches
    }
}
