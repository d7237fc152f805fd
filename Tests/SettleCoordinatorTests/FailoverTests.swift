import Foundation
#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif
import LaunchedProcesses
import PostgresClient
import SettleClient
import SettleCore
import SettleProtocol
import SettleTestSupport
import Testing

/// Two settled processes for one coordinator id over a log in PostgreSQL (issue "Failover"): one
/// active, one standby waiting for the lease, with real processes and real clusters.
@Suite struct FailoverTests {
    static let leaseMilliseconds = 1000

    /// The log lives in bank-a's database, named by the coordinator id.
    static func useLogInPostgres(_ deployment: Deployment) throws {
        try deployment.reconfigure(["logDirectory": deployment.databases[0].url, "leaseMilliseconds": leaseMilliseconds])
    }

    static func startSettled(_ deployment: Deployment, readyPrefix: String = "settled ready") throws -> LaunchedProcess {
        try LaunchedProcess("settled", ["--config", deployment.directory.subpath("settled.json")], readyPrefix: readyPrefix)
    }

    static func port(_ key: String, in line: String) -> Int {
        line.split(separator: " ").first { $0.hasPrefix(key + "=") }.flatMap { Int($0.dropFirst(key.count + 1)) } ?? 0
    }

    static func health(_ metricsPort: Int) async throws -> (Int, String) {
        let (data, response) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(metricsPort)/healthz")!)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }

    static func submit(_ ids: [String], api: Int, wait: Bool) async throws -> [Settle_V1_Transfer] {
        try await SettleClient.withClient(host: "127.0.0.1", port: api, token: clientToken) { client in
            var answers: [Settle_V1_Transfer] = []
            for (index, id) in ids.enumerated() {
                let branches = Deployment.branches(amount: 10, fromA: index % 2 == 0, account: index % Deployment.accountsPerBank)
                answers.append(try await client.submit(id: id, branches: branches, wait: wait, timeout: .seconds(30)))
            }
            return answers
        }
    }

    static func expectBooksAndLog(_ deployment: Deployment) async throws {
        try await waitUntil(timeout: .seconds(30), "nothing prepared under the prefix") { try await deployment.preparedUnderPrefix().isEmpty }
        #expect(try await deployment.totalBalance() == deployment.expectedTotal, "money is conserved")
        let verify = try run(
            "settle",
            ["audit", "verify", "--log", "\(deployment.databases[0].url)#\(deployment.coordinatorID)", "--public-key", deployment.publicKeyPath]
        )
        #expect(verify.status == 0, "the log in PostgreSQL verifies: \(verify.output) \(verify.errorOutput)")
    }

    @Test func aStandbyTakesOverWhenTheActiveIsKilledAndEveryTransferEnds() async throws {
        try await withDeployment(startsSettled: false) { deployment in
            try Self.useLogInPostgres(deployment)
            let active = try Self.startSettled(deployment)
            let standby = try Self.startSettled(deployment, readyPrefix: "settled standby")
            let (status, state) = try await Self.health(Self.port("metrics", in: standby.readyLine))
            #expect(status == 503 && state == "standby\n", "a standby is not routed to")

            let ids = (0..<20).map { "failover-kill-\($0)" }
            _ = try await Self.submit(ids, api: Self.port("api", in: active.readyLine), wait: false)
            active.kill()
            let killedAt = ContinuousClock.now
            guard let ready = try await standby.line(startingWith: "settled ready", timeout: .seconds(30)) else {
                Issue.record("the standby never took over")
                return
            }
            let takeover = ContinuousClock.now - killedAt
            #expect(takeover < .milliseconds(Self.leaseMilliseconds * 5), "took over in \(takeover)")
            let answers = try await Self.submit(ids, api: Self.port("api", in: ready), wait: true)
            #expect(answers.allSatisfy { $0.state == .committed || $0.state == .aborted }, "\(answers.map(\.state))")
            let (activeStatus, activeState) = try await Self.health(Self.port("metrics", in: ready))
            #expect(activeStatus == 200 && activeState == "active\n")
            standby.stop()
            try await Self.expectBooksAndLog(deployment)
        }
    }

    @Test func aCoordinatorStoppedPastItsLeaseSealsNothingAndExitsWhenItWakes() async throws {
        try await withDeployment(startsSettled: false) { deployment in
            try Self.useLogInPostgres(deployment)
            let paused = try Self.startSettled(deployment)
            let standby = try Self.startSettled(deployment, readyPrefix: "settled standby")
            _ = try await Self.submit(["before-the-pause"], api: Self.port("api", in: paused.readyLine), wait: true)
            let epochOfPaused = try await Self.epochs(deployment).max() ?? 0

            paused.send(SIGSTOP)
            guard let ready = try await standby.line(startingWith: "settled ready", timeout: .seconds(30)) else {
                Issue.record("the standby never took over from a stopped coordinator")
                paused.send(SIGCONT)
                return
            }
            let answers = try await Self.submit(["after-the-takeover"], api: Self.port("api", in: ready), wait: true)
            #expect(answers.first?.state == .committed)
            let sealedByPaused = try await Self.epochs(deployment).filter { $0 == epochOfPaused }.count

            paused.send(SIGCONT)
            #expect(try await paused.waitForExit(timeout: .seconds(10)), "the deposed coordinator stops by itself")
            #expect(paused.process.terminationStatus == 75)
            #expect(
                try await Self.epochs(deployment).filter { $0 == epochOfPaused }.count == sealedByPaused,
                "the deposed coordinator sealed nothing after it woke"
            )
            #expect(try await Self.epochs(deployment).max() == epochOfPaused + 1)
            standby.stop()
            try await Self.expectBooksAndLog(deployment)
        }
    }

    @Test func aCleanStopHandsTheLeaseOverAtOnce() async throws {
        try await withDeployment(startsSettled: false) { deployment in
            try Self.useLogInPostgres(deployment)
            try deployment.reconfigure(["leaseMilliseconds": 60_000])
            let first = try Self.startSettled(deployment)
            let standby = try Self.startSettled(deployment, readyPrefix: "settled standby")
            first.stop()  // SIGTERM: drains, closes the log, releases the lease
            let stoppedAt = ContinuousClock.now
            let ready = try await standby.line(startingWith: "settled ready", timeout: .seconds(30))
            #expect(ready != nil)
            #expect(ContinuousClock.now - stoppedAt < .seconds(5), "not the 60 s a lease left to expire would take")
            standby.stop()
        }
    }

    /// The epoch of every sealed batch, in seal order.
    static func epochs(_ deployment: Deployment) async throws -> [Int64] {
        let rows = try await deployment.pools[0].query(
            "SELECT epoch FROM settle_log_batches WHERE log_name = $1 ORDER BY seal_number", [deployment.coordinatorID]
        )
        return try rows.map { try $0.decode(Int64.self, column: 0) }
    }
}

extension FailoverTests {
    @Test func aClientGivenEveryAddressFollowsTheTakeover() async throws {
        try await withDeployment(startsSettled: false) { deployment in
            try Self.useLogInPostgres(deployment)
            let ports = [try LaunchedProcess.unusedLoopbackPort(), try LaunchedProcess.unusedLoopbackPort()]
            let config = deployment.directory.subpath("settled.json")
            let active = try LaunchedProcess("settled", ["--config", config, "--listen", "127.0.0.1:\(ports[0])"], readyPrefix: "settled ready")
            let standby = try LaunchedProcess("settled", ["--config", config, "--listen", "127.0.0.1:\(ports[1])"], readyPrefix: "settled standby")
            let addresses = try ports.map { try HostPort(parsing: "127.0.0.1:\($0)") }
            func submit(_ id: String) async throws -> Settle_V1_Transfer {
                try await SettleClient.withFailover(addresses: addresses, token: clientToken) { client in
                    try await client.submit(id: id, branches: Deployment.branches(amount: 5, fromA: true, account: 1), wait: true)
                }
            }
            #expect(try await submit("to-the-first").state == .committed)
            active.kill()
            #expect(try await submit("to-whoever-serves").state == .committed, "the client waited out the takeover")
            #expect(try await standby.line(startingWith: "settled ready api=\(ports[1])", timeout: .seconds(1)) != nil)
            standby.stop()
            try await Self.expectBooksAndLog(deployment)
        }
    }
}

extension FailoverTests {
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .path

    /// The log's database is lost (its primary killed) and its synchronous standby promoted, as
    /// Patroni or an operator would: every decision a client was told about is still sealed.
    @Test func losingTheLogsPrimaryDatabaseAndPromotingItsStandbyLosesNoSealedDecision() async throws {
        let replicated = try TestClusters.replicatedDirectory()
        let logURL = try String(contentsOfFile: replicated + "/failover-url", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        try await withDeployment(startsSettled: false) { deployment in
            try deployment.reconfigure(["logDirectory": logURL, "leaseMilliseconds": Self.leaseMilliseconds])
            let first = try Self.startSettled(deployment)
            let told = try await Self.submit((0..<12).map { "before-the-loss-\($0)" }, api: Self.port("api", in: first.readyLine), wait: true)
            let inFlight = (0..<8).map { "during-the-loss-\($0)" }
            _ = try await Self.submit(inFlight, api: Self.port("api", in: first.readyLine), wait: false)

            let failover = Process()
            failover.executableURL = URL(fileURLWithPath: "/bin/bash")
            failover.arguments = [Self.repositoryRoot + "/tools/pg", "failover", "--dir", replicated]
            try failover.run()
            failover.waitUntilExit()
            #expect(failover.terminationStatus == 0, "tools/pg failover")
            #expect(try await first.waitForExit(timeout: .seconds(15)), "settled stops once its log's database is gone")

            let successor = try Self.startSettled(deployment)
            let api = Self.port("api", in: successor.readyLine)
            let after = try await SettleClient.withClient(host: "127.0.0.1", port: api, token: clientToken) { client in
                try await told.asyncMap { try await client.get(id: $0.transferID) }
            }
            #expect(after.map(\.state) == told.map(\.state), "every state a client was told survived the database failover")
            let ended = try await Self.submit(inFlight, api: api, wait: true)
            #expect(ended.allSatisfy { $0.state == .committed || $0.state == .aborted })
            successor.stop()
            try await waitUntil(timeout: .seconds(30), "nothing prepared under the prefix") { try await deployment.preparedUnderPrefix().isEmpty }
            #expect(try await deployment.totalBalance() == deployment.expectedTotal, "money is conserved")
            let verify = try run(
                "settle", ["audit", "verify", "--log", "\(logURL)#\(deployment.coordinatorID)", "--public-key", deployment.publicKeyPath])
            #expect(verify.status == 0, "\(verify.output) \(verify.errorOutput)")
        }
    }
}

extension Array {
    fileprivate func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var mapped: [T] = []
        for element in self { mapped.append(try await transform(element)) }
        return mapped
    }
}
