import ExampleBank
import Foundation
#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif
import LaunchedProcesses
import PostgresClient
import SettleAuth
import SettleClient
import SettleCore
import SettleParticipant
import SettleProtocol
import SettleTestSupport
import SignedLog
import Testing

/// The tests' own client: may do everything (every action, read all, operator).
let clientToken = "client-token-for-tests-0123456789"
/// A service with least privilege: debit (refund) at bank-a, credit (reverse-credit) at bank-b, reads its own.
let paymentsToken = "payments-token-for-tests-0123456789"
/// Two operators, for four-eyes; they read everything and submit nothing.
let aliceToken = "alice-operator-token-0123456789"
let bobToken = "bob-operator-token-0123456789"
/// Reads every transfer and may do nothing else (the console's read permission without operator).
let viewerToken = "viewer-read-only-token-0123456789"

/// A real deployment on loopback: two ExampleBank processes, each with its own database on its
/// own cluster, and a settled process with a fresh log and key.
final class Deployment: @unchecked Sendable {
    static let accountsPerBank = 10
    static let openingBalance: Int64 = 10_000

    let directory: TemporaryDirectory
    let databases: [ScratchDatabase]
    let pools: [PostgresPool]
    private(set) var banks: [LaunchedProcess] = []
    private(set) var settled: LaunchedProcess?
    /// Unique per deployment: tests run in parallel on shared clusters, and a gid must be unique in
    /// its whole cluster (pg_prepared_xacts spans every database).
    let coordinatorID = "coord-\(UInt32.random(in: 0...UInt32.max))"
    let bankNames = ["bank-a", "bank-b"]
    let bankTokens = ["bank-a-token-0123456789", "bank-b-token-0123456789"]
    private(set) var bankPorts: [Int] = []

    var logDirectory: String { directory.subpath("log") }
    var publicKeyPath: String { directory.subpath("keys/signing-key.pub.pem") }
    var apiPort: Int { settled?.port("api") ?? 0 }
    var metricsPort: Int { settled?.port("metrics") ?? 0 }
    var consolePort: Int { settled?.port("console") ?? 0 }

    private let extraBankArguments: [[String]]
    private var extraConfiguration: [String: Any]
    private let participantTLS: Any?

    /// - Parameters:
    ///   - bankArguments: extra example-bank arguments per bank (fault injection, TLS).
    ///   - configuration: settled configuration keys added to the defaults below.
    ///   - participantTLS: the `tls` value of every participant entry.
    init(bankArguments: [[String]] = [[], []], configuration: [String: Any] = [:], participantTLS: Any? = nil) async throws {
        extraBankArguments = bankArguments
        extraConfiguration = configuration
        self.participantTLS = participantTLS
        directory = try TemporaryDirectory()
        databases = [try await ScratchDatabase.create(cluster: 0), try await ScratchDatabase.create(cluster: 1)]
        pools = databases.map { PostgresPool(configuration: .init(connectionString: $0.url, connectionsMax: 4)) }
        for (index, pool) in pools.enumerated() {
            try await BankSchema.migrate(pool)
            let prefix = index == 0 ? "a" : "b"
            try await BankSchema.seed(pool, accounts: (0..<Self.accountsPerBank).map { ("\(prefix)\($0)", Self.openingBalance) })
        }
        try FileManager.default.createDirectory(atPath: directory.subpath("keys"), withIntermediateDirectories: true)
        let key = try SigningKey.generate()
        try PrivateKeyFile.create(directory.subpath("keys/signing-key.pem"), bytes: key.pkcs8PEMBytes(), mode: 0o600)
        try PrivateKeyFile.create(publicKeyPath, bytes: key.verifyingKey.pemBytes(), mode: 0o644)
        for index in 0..<2 {
            try CoordinatorsFile.write(
                coordinatorsPath(index), coordinators: [(id: coordinatorID, token: bankTokens[index], publicKeyFile: publicKeyPath)]
            )
            try startBank(index, port: 0)
        }
        bankPorts = banks.map { $0.port() ?? 0 }
        try writeConfiguration()
    }

    func startBank(_ index: Int, port: Int) throws {
        let bank = try LaunchedProcess(
            "example-bank",
            [
                "--name", bankNames[index], "--database-url", databases[index].url, "--listen", "127.0.0.1:\(port)",
                "--coordinators", coordinatorsPath(index),
            ] + extraBankArguments[index],
            readyPrefix: "listening on "
        )
        if banks.count > index { banks[index] = bank } else { banks.append(bank) }
    }

    func coordinatorsPath(_ bank: Int) -> String { directory.subpath("\(bankNames[bank])-coordinators.json") }

    nonisolated(unsafe) static let clients: [[String: Any]] = [
        [
            "name": "tests", "tokenSHA256": TokenSource.hexDigest(ofToken: clientToken), "read": "all", "operator": true,
            // The client certificate TestCertificates issues names the same client (TLSTests).
            "certificateCommonName": "settle-test-client",
            "submit": [
                ["participant": "bank-a", "actions": ["*"], "compensations": ["*"]],
                ["participant": "bank-b", "actions": ["*"], "compensations": ["*"]],
            ],
        ],
        [
            "name": "payments", "tokenSHA256": TokenSource.hexDigest(ofToken: paymentsToken), "read": "own",
            "submit": [
                ["participant": "bank-a", "actions": ["debit"], "compensations": ["refund"]],
                ["participant": "bank-b", "actions": ["credit"], "compensations": ["reverse-credit"]],
            ],
        ],
        ["name": "alice", "tokenSHA256": TokenSource.hexDigest(ofToken: aliceToken), "read": "all", "operator": true],
        ["name": "bob", "tokenSHA256": TokenSource.hexDigest(ofToken: bobToken), "read": "all", "operator": true],
        ["name": "viewer", "tokenSHA256": TokenSource.hexDigest(ofToken: viewerToken), "read": "all"],
    ]

    /// Rewrites settled.json with `changes` on top of everything configured so far (takes
    /// effect at settled's next start).
    func reconfigure(_ changes: [String: Any]) throws {
        extraConfiguration.merge(changes) { $1 }
        try writeConfiguration()
    }

    private func writeConfiguration() throws {
        let configuration: [String: Any] = [
            "coordinatorID": coordinatorID,
            "listen": "127.0.0.1:0",
            "metricsListen": "127.0.0.1:0",
            "consoleListen": "127.0.0.1:0",
            "logDirectory": logDirectory,
            "signingKey": directory.subpath("keys/signing-key.pem"),
            "clients": Self.clients,
            "participants": (0..<2).map { index -> [String: Any] in
                var participant: [String: Any] = [
                    "name": bankNames[index], "address": "127.0.0.1:\(bankPorts[index])", "token": bankTokens[index],
                ]
                participant["tls"] = participantTLS
                return participant
            },
            "sweepIntervalMilliseconds": 500,
            "checkpointIntervalMilliseconds": 2000,
            "retryInitialMilliseconds": 20,
            "retryMaxMilliseconds": 300,
            "compensationRetriesMax": 3,
        ]
        try JSONSerialization.data(withJSONObject: configuration.merging(extraConfiguration) { $1 }).write(
            to: URL(fileURLWithPath: directory.subpath("settled.json")))
        // It holds the participants' tokens inline: settled refuses it readable by others.
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: directory.subpath("settled.json"))
    }

    /// - Parameter waitUntilReady: false for a run expected to crash before it is ready.
    func startSettled(crashAt: String? = nil, environment: [String: String] = [:], waitUntilReady: Bool = true) throws {
        settled = try LaunchedProcess(
            "settled", ["--config", directory.subpath("settled.json")],
            environment: environment.merging(crashAt.map { ["SETTLE_CRASH_AT": $0] } ?? [:]) { $1 },
            readyPrefix: waitUntilReady ? "settled ready" : nil
        )
    }

    func client<Result: Sendable>(
        tls: SettleClient.TLS? = nil, token: String = clientToken, _ body: (SettleClient) async throws -> Result
    ) async throws -> Result {
        try await SettleClient.withClient(host: "127.0.0.1", port: apiPort, token: token, tls: tls, body)
    }

    func tearDown() async {
        settled?.stop()
        for bank in banks { bank.stop() }
        for pool in pools { await pool.close() }
        for database in databases { await database.drop() }
    }

    // MARK: Invariants (docs/design.md, "Testing and measuring")

    func totalBalance() async throws -> Int64 {
        var total: Int64 = 0
        for pool in pools { total += try await BankSchema.totalBalance(pool) }
        return total
    }

    var expectedTotal: Int64 { 2 * Int64(Self.accountsPerBank) * Self.openingBalance }

    /// Cluster-wide (a gid is unique per cluster, and the prefix names only this coordinator).
    func preparedUnderPrefix() async throws -> [String] {
        var gids: [String] = []
        for pool in pools {
            gids += try await pool.withConnection { try await $0.preparedTransactions(gidPrefix: "settle:\(coordinatorID):") }.map(\.gid)
        }
        return gids
    }

    /// How many postings each bank holds for the transfer's branches, under any admission of its
    /// id (gid parts 5 and 6 are the transfer id and the branch index; protocol/gid.md).
    func postingCounts(_ transferID: String) async throws -> [Int64] {
        var counts: [Int64] = []
        for (index, pool) in pools.enumerated() {
            counts.append(
                try await pool.query(
                    """
                    SELECT count(*)::bigint AS n FROM postings
                    WHERE starts_with(gid, $1) AND split_part(gid, ':', 5) = $2 AND split_part(gid, ':', 6) = $3
                    """,
                    ["settle:\(coordinatorID):", transferID, "\(index)"]
                )[0].decode(column: "n")
            )
        }
        return counts
    }

    /// The gids settled reports for the transfer's branches.
    func gids(_ transferID: String) async throws -> [String] {
        try await client { try await $0.get(id: transferID) }.branches.map(\.gid)
    }

    /// The gid of a transfer's branch that is prepared now, found in pg_prepared_xacts.
    func preparedGID(_ transferID: String, branch: Int) async throws -> String {
        let matching = try await preparedUnderPrefix().filter { gid in
            let parts = gid.split(separator: ":", omittingEmptySubsequences: false)
            return parts.count == 6 && parts[4] == transferID && parts[5] == "\(branch)"
        }
        guard matching.count == 1 else {
            throw TestFailure("expected one prepared branch \(branch) of \(transferID), found \(matching)")
        }
        return matching[0]
    }

    func auditVerify() throws -> Finished {
        try run("settle", ["audit", "verify", "--log", logDirectory, "--public-key", publicKeyPath])
    }

    func metrics() async throws -> String {
        let (data, _) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(metricsPort)/metrics")!)
        return String(decoding: data, as: UTF8.self)
    }

    /// The HTTP status of settled's `/healthz`.
    func healthStatus() async throws -> Int {
        let (_, response) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(metricsPort)/healthz")!)
        return (response as? HTTPURLResponse)?.statusCode ?? 0
    }

    /// Debit `from` (bank-a or bank-b) and credit the other bank.
    static func branches(amount: Int64, fromA: Bool, account: Int) -> [SettleClient.Branch] {
        let debit = SettleClient.Branch(
            participant: fromA ? "bank-a" : "bank-b", action: "debit",
            payload: #"{"account":"\#(fromA ? "a" : "b")\#(account)","amount":\#(amount)}"#, compensation: "refund"
        )
        let credit = SettleClient.Branch(
            participant: fromA ? "bank-b" : "bank-a", action: "credit",
            payload: #"{"account":"\#(fromA ? "b" : "a")\#(account)","amount":\#(amount)}"#, compensation: "reverse-credit"
        )
        // Branch 0 lives in bank-a and branch 1 in bank-b whatever the direction.
        return fromA ? [debit, credit] : [credit, debit]
    }
}

/// Whether `settle audit dump` output has a record of `type` whose JSON holds every fragment.
func hasRecord(_ dump: String, _ type: String, _ fragments: String...) -> Bool {
    dump.split(separator: "\n").contains { line in
        line.contains("\(type)  {") && fragments.allSatisfy { line.contains($0) }
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Runs `body` with a deployment (settled started unless asked not to) and always tears it down
/// before returning, so no process outlives its test.
func withDeployment(
    bankArguments: [[String]] = [[], []], configuration: [String: Any] = [:], participantTLS: Any? = nil,
    startsSettled: Bool = true, crashAt: String? = nil, _ body: (Deployment) async throws -> Void
) async throws {
    let deployment = try await Deployment(bankArguments: bankArguments, configuration: configuration, participantTLS: participantTLS)
    do {
        if startsSettled { try deployment.startSettled(crashAt: crashAt) }
        try await body(deployment)
    } catch {
        await deployment.tearDown()
        throw error
    }
    await deployment.tearDown()
}

/// The invariants every end-to-end test checks when it finishes (docs/design.md, "Testing and
/// measuring"), from the banks' databases and the log: money is conserved; nothing is left
/// prepared under this coordinator's prefix; every transfer settled reports COMMITTED is posted
/// in every participant, and every ABORTED or COMPENSATED one left no net effect; the log
/// verifies. Stops settled (the audit reads a closed log).
func expectEveryInvariant(
    _ deployment: Deployment, tls: SettleClient.TLS? = nil, sourceLocation: SourceLocation = #_sourceLocation
) async throws {
    try await waitUntil(timeout: .seconds(30), "nothing prepared under the prefix", sourceLocation: sourceLocation) {
        try await deployment.preparedUnderPrefix().isEmpty
    }
    #expect(try await deployment.totalBalance() == deployment.expectedTotal, "money is conserved", sourceLocation: sourceLocation)
    var transfers: [Settle_V1_Transfer] = []
    var token = ""
    repeat {
        let page = try await deployment.client(tls: tls) { try await $0.list(pageSize: 1000, pageToken: token) }
        transfers += page.transfers
        token = page.nextPageToken
    } while !token.isEmpty
    var net: [String: (count: Int64, sum: Int64)] = [:]
    for pool in deployment.pools {
        for row in try await pool.query("SELECT gid, count(*)::bigint AS n, sum(amount)::bigint AS total FROM postings GROUP BY gid") {
            net[try row.decode(String.self, column: "gid")] = (try row.decode(column: "n"), try row.decode(column: "total"))
        }
    }
    for transfer in transfers {
        for branch in transfer.branches {
            let posted = net[branch.gid]
            switch transfer.state {
            case .committed:
                #expect(posted?.count == 1, "\(transfer.transferID) is committed: \(branch.gid) is posted once", sourceLocation: sourceLocation)
            case .aborted where transfer.path != "manual", .compensated where transfer.path != "manual":
                // An operator's decision is backed by what the operator did by hand, not by postings.
                #expect(
                    (posted?.sum ?? 0) == 0, "\(transfer.transferID) (\(transfer.state)): \(branch.gid) nets to zero", sourceLocation: sourceLocation)
            default:
                break
            }
        }
    }
    deployment.settled?.stop()
    let audit = try deployment.auditVerify()
    #expect(audit.status == 0, "settle audit verify: \(audit.errorOutput)", sourceLocation: sourceLocation)
}
