import ExampleBank
import Foundation
import LaunchedProcesses
import PostgresClient
import SettleAuth
import SettleCore
import SettleClient
import SettleParticipant
import SignedLog

/// Three ExampleBank processes, each with its own database on its own cluster, and one settled,
/// on loopback or each in a network namespace of its own (`ChaosNetwork`), each restartable on the port it first bound (clients and settled's
/// configuration keep pointing at it, as they would at a service address in production).
actor ChaosDeployment {
    static let bankNames = ["bank-a", "bank-b", "bank-c"]
    static let accountsPerBank = 24
    static let openingBalance: Int64 = 1_000_000
    static let coordinatorID = "chaos"
    /// The storm's client: submits anything at any bank, reads its own transfers.
    static let clientToken = "chaos-client-token-0123456789"
    /// The operator who resolves what got stuck: reads everything, submits nothing.
    static let operatorToken = "chaos-operator-token-0123456789"
    static func bankToken(_ index: Int) -> String { "\(bankNames[index])-chaos-token-0123456789" }
    nonisolated var signingKeyPath: String { work + "/keys/signing-key.pem" }

    /// The account every transfer of the hot phase credits: pooled, so its credits append deposits
    /// (and its debits and reverse-credits fold them), while the other accounts update in place.
    static let merchantBank = 1
    static var merchant: String { account(bank: merchantBank, 0) }

    static func account(bank: Int, _ index: Int) -> String { "\(bankNames[bank].suffix(1))\(index)" }
    static var expectedTotal: Int64 { Int64(bankNames.count * accountsPerBank) * openingBalance }

    let work: String
    let executables: String
    let pools: [PostgresPool]
    let databaseURLs: [String]
    nonisolated let network: ChaosNetwork
    private var banks: [LaunchedProcess?]
    /// With `network.delayProxy`: settled's way to each bank, in settled's namespace.
    private var proxies: [LaunchedProcess] = []
    private var bankPorts: [Int]
    private var settled: LaunchedProcess?
    private(set) var apiPort = 0
    /// With `--failover`: the log in PostgreSQL, and two settled for the one coordinator id.
    nonisolated let failover: ChaosFailover?
    /// Each failover slot's settled (the active one and its standby), on its own fixed port.
    var slots: [LaunchedProcess?] = [nil, nil]

    /// The log: a directory, or with `--failover` its PostgreSQL location.
    nonisolated var logDirectory: String { failover.map { "\($0.logURL)#\(Self.coordinatorID)" } ?? work + "/log" }
    /// Every address a client may find settled at: with `--failover`, both slots' ports.
    var apiAddresses: [HostPort] {
        get throws {
            try (failover?.apiPorts ?? [apiPort]).map { try HostPort(parsing: "\(network.coordinatorAddress):\($0)") }
        }
    }
    nonisolated var publicKeyPath: String { work + "/keys/signing-key.pub.pem" }
    private nonisolated var configurationPath: String { work + "/settled.json" }

    nonisolated var apiHost: String { network.coordinatorAddress }
    /// Holding "MEAN JITTER" (ms), it makes settled's proxy to `bank` delay what it forwards.
    nonisolated func delayControlFile(_ bank: Int) -> String { work + "/delay-\(Self.bankNames[bank])" }

    init(work: String, executables: String, databaseURLs: [String], network: ChaosNetwork, failover: ChaosFailover? = nil) {
        self.failover = failover
        self.work = work
        self.executables = executables
        self.databaseURLs = databaseURLs
        self.network = network
        pools = databaseURLs.map { PostgresPool(configuration: .init(connectionString: $0, connectionsMax: 2)) }
        banks = Array(repeating: nil, count: databaseURLs.count)
        bankPorts = Array(repeating: 0, count: databaseURLs.count)
    }

    /// Fresh schema and balances, a fresh signing key and log, every process started.
    func start() async throws {
        try FileManager.default.createDirectory(atPath: work + "/keys", withIntermediateDirectories: true)
        for (index, pool) in pools.enumerated() {
            try await BankSchema.migrate(pool)
            try await pool.query("TRUNCATE postings")
            try await pool.query("TRUNCATE deposits")
            try await pool.query("DELETE FROM accounts")
            try await BankSchema.seed(
                pool, accounts: (0..<Self.accountsPerBank).map { (Self.account(bank: index, $0), Self.openingBalance) },
                pooled: index == Self.merchantBank ? [Self.merchant] : []
            )
        }
        let key = try SigningKey.generate()
        try PrivateKeyFile.create(work + "/keys/signing-key.pem", bytes: key.pkcs8PEMBytes(), mode: 0o600)
        try PrivateKeyFile.create(publicKeyPath, bytes: key.verifyingKey.pemBytes(), mode: 0o644)
        for index in banks.indices {
            try CoordinatorsFile.write(
                work + "/\(Self.bankNames[index])-coordinators.json",
                coordinators: [(id: Self.coordinatorID, token: Self.bankToken(index), publicKeyFile: publicKeyPath)]
            )
            try await startBank(index, faultArguments: [])
        }
        try await startProxies()
        try writeConfiguration()
        try await startSettled(crashAt: nil)
        // From now on settled comes back on the same port.
        try writeConfiguration()
    }

    // MARK: Processes

    func isBankRunning(_ index: Int) -> Bool { banks[index]?.isRunning ?? false }
    func bankPort(_ index: Int) -> Int { bankPorts[index] }
    /// With `--failover`: both slots are (one active, one standby).
    var isSettledRunning: Bool {
        failover == nil ? settled?.isRunning ?? false : slots.allSatisfy { $0?.isRunning ?? false }
    }

    func startBank(_ index: Int, faultArguments: [String]) async throws {
        let name = Self.bankNames[index]
        let (program, arguments) = ChaosNetwork.command(
            executables + "/example-bank",
            [
                "--name", name, "--database-url", databaseURLs[index], "--listen",
                "\(network.bankAddresses[index]):\(bankPorts[index])", "--coordinators", work + "/\(name)-coordinators.json",
            ] + (network.isIsolated ? ["--allow-plaintext"] : []) + faultArguments,
            in: network.bankNamespaces[index]
        )
        let bank = try await LaunchedProcess.launch(
            executable: program, arguments, readyPrefix: "listening on ", errorLogPath: work + "/\(name).err"
        )
        banks[index] = bank
        bankPorts[index] = bank.port() ?? 0
    }

    /// - Parameter crashAt: a SETTLE_CRASH_AT point; the process may die before it is ready, in
    ///   which case this returns normally and `isSettledRunning` is false.
    func startSettled(crashAt: String?) async throws {
        if failover != nil { return try await startSlots(crashAt: crashAt) }
        let (program, arguments) = ChaosNetwork.command(
            executables + "/settled", ["--config", configurationPath], in: network.coordinatorNamespace
        )
        do {
            settled = try await LaunchedProcess.launch(
                executable: program, arguments,
                environment: crashAt.map { ["SETTLE_CRASH_AT": $0] } ?? [:], readyPrefix: "settled ready",
                errorLogPath: work + "/settled.err"
            )
            apiPort = settled?.port("api") ?? apiPort
        } catch is LaunchedProcess.LaunchFailure where crashAt != nil {
            settled = nil
        }
    }

    func killBank(_ index: Int) async {
        await kill(banks[index])
    }

    func killSettled() async {
        if failover != nil { return await killActiveSlot() }
        await kill(settled)
    }

    /// SIGTERM: settled drains and exits, so the log ends on a seal and audits strictly.
    func stopSettled() async {
        for slot in slots { await terminate(slot) }
        await terminate(settled)
    }

    private func terminate(_ settled: LaunchedProcess?) async {
        guard let settled, settled.isRunning else { return }
        settled.send(SIGTERM)
        _ = try? await settled.waitForExit(timeout: .seconds(60))
        if settled.isRunning { await kill(settled) }
    }

    /// One delaying proxy per bank in settled's namespace, forwarding to the bank's address: it
    /// keeps forwarding across the bank's restarts, which keep their port.
    private func startProxies() async throws {
        guard let script = network.delayProxy else { return }
        for index in banks.indices {
            let (program, arguments) = ChaosNetwork.command(
                "/usr/bin/python3",
                [script, "127.0.0.1", "\(network.bankAddresses[index]):\(bankPorts[index])", delayControlFile(index)],
                in: network.coordinatorNamespace
            )
            proxies.append(
                try await LaunchedProcess.launch(
                    executable: program, arguments, readyPrefix: "listening on ",
                    errorLogPath: work + "/proxy-\(Self.bankNames[index]).err"
                )
            )
        }
    }

    func stopEverything() async {
        await stopSettled()
        for bank in banks { await kill(bank) }
        for proxy in proxies { await kill(proxy) }
        for pool in pools { await pool.close() }
    }

    func kill(_ process: LaunchedProcess?) async {
        guard let process, process.isRunning else { return }
        process.send(SIGKILL)
        _ = try? await process.waitForExit(timeout: .seconds(30))
    }

    private func writeConfiguration() throws {
        let configuration: [String: Any] = [
            "coordinatorID": Self.coordinatorID,
            "listen": "\(network.coordinatorAddress):\(apiPort)",
            // The namespaces' private bridge, on this machine only (tools/lib/chaos-network.sh).
            "allowPlaintext": network.isIsolated,
            "metricsListen": "127.0.0.1:0", "consoleListen": "127.0.0.1:0",
            "logDirectory": logDirectory,
            "signingKey": work + "/keys/signing-key.pem",
            "clients": [
                [
                    "name": "storm", "tokenSHA256": TokenSource.hexDigest(ofToken: Self.clientToken), "read": "own",
                    "submit": Self.bankNames.map { ["participant": $0, "actions": ["*"], "compensations": ["*"]] },
                ],
                [
                    "name": "chaos-operator", "tokenSHA256": TokenSource.hexDigest(ofToken: Self.operatorToken), "read": "all",
                    "operator": true,
                ],
            ],
            "participants": banks.indices.map {
                [
                    "name": Self.bankNames[$0], "address": "127.0.0.1:\(proxies.isEmpty ? bankPorts[$0] : proxies[$0].port() ?? 0)",
                    "token": Self.bankToken($0),
                ]
            },
            "prepareTimeoutMilliseconds": 1000,
            "sagaTimeoutMilliseconds": 60_000,
            "sweepIntervalMilliseconds": 1000,
            "checkpointIntervalMilliseconds": 5000,
            "retryInitialMilliseconds": 20,
            "retryMaxMilliseconds": 500,
            // Realistic (the default): a compensation that still fails after this many attempts is stuck, and
            // "none stuck" is then a claim the storm can fail.
            "compensationRetriesMax": 20,
        ].merging(failover.map { ["logDirectory": $0.logURL, "leaseMilliseconds": ChaosFailover.leaseMilliseconds] } ?? [:]) { $1 }
        try JSONSerialization.data(withJSONObject: configuration, options: [.prettyPrinted, .sortedKeys])
            .write(to: URL(fileURLWithPath: configurationPath))
        // It holds the banks' tokens inline: settled refuses it readable by others.
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: configurationPath)
    }

    // MARK: What the databases hold

    /// Cluster-wide (a gid is unique per cluster, and the prefix names only this coordinator).
    func preparedUnderPrefix() async throws -> [String] {
        let prefix = try BranchGID.prefix(coordinatorID: Self.coordinatorID)
        var gids: [String] = []
        for pool in pools {
            gids += try await pool.withConnection { try await $0.preparedTransactions(gidPrefix: prefix) }.map(\.gid)
        }
        return gids
    }
}
