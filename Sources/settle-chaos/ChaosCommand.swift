import ArgumentParser
import Foundation
import LaunchedProcesses
import SettleClient
import SettleCore
import SettleProtocol

/// tools/chaos: a fault storm against a real deployment, then every invariant of docs/design.md.
@main
struct ChaosCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "settle-chaos",
        abstract: "Transfers over three banks while the coordinator and the banks are killed, slowed and restarted; then every invariant.",
        discussion: "Exits 0 only if every invariant holds. tools/chaos starts the clusters and calls this."
    )

    @Option(help: "Transfers to run.")
    var transfers = 10_000

    @Option(help: "Seed for the workload and the fault schedule (random when omitted; always printed).")
    var seed: UInt64?

    @Option(help: "Transfers in flight at once.")
    var concurrency = 16

    @Option(name: .customLong("database-urls"), help: "Three PostgreSQL URLs, one cluster per bank, separated by spaces.")
    var databaseURLs: String

    @Option(help: "Working directory (logs, keys, configuration); emptied first.")
    var work: String

    @Option(help: "Directory holding settled, example-bank and settle (default: beside this program).")
    var executables: String?

    @Option(
        help: """
            Run settled and each bank in the network namespaces tools/lib/chaos-network.sh made, settled reaching             the banks through this delaying proxy (tools/lib/delay-proxy.py), and add network faults to the storm.
            """
    )
    var networkDelayProxy: String?

    @Option(help: "With --failover: libpq's multi-host URL of the log's primary and synchronous standby (tools/pg start --standby).")
    var failoverLogURL: String?

    @Option(help: "With --failover: the tools/pg directory of that pair, for tools/pg failover.")
    var failoverDatabaseDirectory: String?

    @Option(help: "With --failover: the repository's tools directory (for tools/pg).")
    var tools: String?

    func validate() throws {
        guard transfers > 0, concurrency > 0 else { throw ValidationError("--transfers and --concurrency must be positive") }
        guard (failoverLogURL == nil) == (failoverDatabaseDirectory == nil), (failoverLogURL == nil) || tools != nil else {
            throw ValidationError("--failover-log-url, --failover-database-directory and --tools go together")
        }
        guard failoverLogURL == nil || networkDelayProxy == nil else {
            throw ValidationError("--failover and --network are separate storms")
        }
        guard databaseURLs.split(separator: " ").count == ChaosDeployment.bankNames.count else {
            throw ValidationError("--database-urls needs exactly \(ChaosDeployment.bankNames.count) URLs")
        }
    }

    func run() async throws {
        let seed = seed ?? UInt64.random(in: 1...UInt64.max)
        say("settle-chaos: \(transfers) transfers, \(concurrency) at a time, seed \(seed)")
        let mode = networkDelayProxy != nil ? "--network " : failoverLogURL != nil ? "--failover " : ""
        say("  replay with: tools/chaos \(mode)--transfers \(transfers) --seed \(seed)")
        try? FileManager.default.removeItem(atPath: work)
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        let binaries = executables ?? URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent().path
        let root = SeededGenerator(seed: seed)
        var workloadGenerator = root.derived(1)
        let workload = ChaosTransfer.workload(count: transfers, generator: &workloadGenerator)

        let deployment = ChaosDeployment(
            work: work, executables: binaries, databaseURLs: databaseURLs.split(separator: " ").map(String.init),
            network: networkDelayProxy.map { ChaosNetwork.namespaces(delayProxy: $0) } ?? .loopback, failover: try failover()
        )
        let networkFaults = networkDelayProxy == nil ? nil : NetworkFaultSchedule(deployment: deployment, generator: root.derived(3))
        let failoverFaults = deployment.failover.map {
            FailoverFaultSchedule(deployment: deployment, failover: $0, generator: root.derived(4))
        }
        let passed: Bool
        do {
            passed = try await storm(
                workload, deployment: deployment,
                faults: FaultSchedule(deployment: deployment, generator: root.derived(2), killsCoordinator: failoverFaults == nil),
                networkFaults: networkFaults, failoverFaults: failoverFaults
            )
        } catch {
            await deployment.stopEverything()
            say("settle-chaos: FAILED: \(error)  (processes' errors are in \(work)/*.err)")
            throw ExitCode.failure
        }
        await deployment.stopEverything()
        say(passed ? "settle-chaos: every invariant holds (seed \(seed))" : "settle-chaos: FAILED (seed \(seed)); logs in \(work)")
        if !passed { throw ExitCode.failure }
    }

    private func failover() throws -> ChaosFailover? {
        guard let failoverLogURL, let failoverDatabaseDirectory, let tools else { return nil }
        return ChaosFailover(
            logURL: failoverLogURL, databaseDirectory: failoverDatabaseDirectory, toolsDirectory: tools,
            apiPorts: [try LaunchedProcess.unusedLoopbackPort(), try LaunchedProcess.unusedLoopbackPort()]
        )
    }

    private func storm(
        _ workload: [ChaosTransfer], deployment: ChaosDeployment, faults: FaultSchedule, networkFaults: NetworkFaultSchedule?,
        failoverFaults: FailoverFaultSchedule?
    ) async throws -> Bool {
        try await deployment.start()
        let started = ContinuousClock.now
        let addresses = try await deployment.apiAddresses
        let faulting = Task {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await faults.run() }
                if let networkFaults {
                    group.addTask { await networkFaults.run() }
                    group.addTask { await networkFaults.sampleInDoubt() }
                }
                if let failoverFaults {
                    group.addTask { await failoverFaults.run() }
                    group.addTask { await failoverFaults.sampleEpochs() }
                }
            }
        }
        let step = max(1, workload.count / 10)
        var outcomes: [WorkloadRunner.Outcome]
        do {
            // A fast storm could otherwise end before the network schedule's first round does
            // (CI's run of 2026-12-05 never partitioned a bank), and its coverage check would fail.
            outcomes = try await WorkloadRunner(
                transfers: workload, concurrency: concurrency, addresses: addresses,
                beforeLastTenth: networkFaults?.everyKindInjected ?? failoverFaults?.everyKindHappened
            ).run { finished in
                if finished % step == 0 {
                    let tally = faults.tally.withLock { $0 }
                    say(
                        "  \(finished)/\(workload.count) final after \(Self.seconds(since: started)); kills so far: coordinator \(tally.coordinatorKills), banks \(tally.bankKills)"
                    )
                }
            }
        } catch {
            faulting.cancel()
            await faulting.value
            throw error
        }
        faulting.cancel()
        await faulting.value
        try await faults.reviveEverything()
        let tally = faults.tally.withLock { $0 }
        if let networkFaults { Self.report(networkFaults.tally.withLock { $0 }) }
        if let failoverFaults { Self.report(failoverFaults.tally.withLock { $0 }) }
        say(
            "  storm over after \(Self.seconds(since: started)): settled SIGKILLed \(tally.coordinatorKills)× (+\(tally.coordinatorSelfCrashes) mid-batch crash), banks SIGKILLed \(tally.bankKills)× (\(tally.slowBankStarts) restarts with an injected delay)"
        )
        for state in [Settle_V1_TransferState.committed, .aborted, .compensated, .stuck] {
            let ended = outcomes.filter { $0.state == state }
            let paths = Dictionary(grouping: ended, by: \.path).map { "\($0.key) \($0.value.count)" }.sorted()
            say(
                "  \(String(describing: state).padding(toLength: 12, withPad: " ", startingAt: 0)) \(ended.count)\(paths.isEmpty ? "" : " (\(paths.joined(separator: ", ")))")"
            )
        }
        let resubmitted = outcomes.filter { $0.attempts > 1 }.count
        say("  \(resubmitted) transfers needed more than one submission (idempotent resubmits after a failure)")

        // Recovery: the sweep rolls back orphans, phase two finishes; give it time, then judge.
        let quiet = ContinuousClock.now + .seconds(120)
        while try await !deployment.preparedUnderPrefix().isEmpty, ContinuousClock.now < quiet {
            try await Task.sleep(for: .milliseconds(250))
        }

        // The operator's step: whatever got stuck is compensated at its participants and resolved;
        // the invariants below then hold the operator's decision to "no net effect".
        let stuckCount = outcomes.filter { $0.state == .stuck }.count
        for (index, resolved) in try await ChaosOperator(deployment: deployment, addresses: addresses).resolveStuck(workload, outcomes) {
            outcomes[index] = resolved
        }
        let deadlocks = outcomes.filter { $0.reason.contains("deadlock with transfer") }.count
        say("  \(deadlocks) transfers aborted to break a deadlock across databases; \(stuckCount) stuck, resolved by the operator")
        var results: [InvariantChecks.Result] = []
        results.append(
            InvariantChecks.Result(
                name: "every transfer is final: committed, aborted or compensated (what got stuck resolved by the operator)",
                failures: zip(workload, outcomes).filter { !$0.1.state.isFinal || $0.1.state == .stuck }
                    .map { "\($0.0.id) \($0.1.state): \($0.1.reason)" },
                detail: "\(outcomes.count) transfers, \(stuckCount) resolved by the operator"
            )
        )
        results.append(
            StormCoverage(outcomes: outcomes, tally: tally, transfers: workload.count, killsCoordinator: failoverFaults == nil).result()
        )
        if let networkFaults { results.append(Self.networkCoverage(networkFaults.tally.withLock { $0 })) }
        results.append(try await coordinatorAgrees(workload, outcomes, addresses: addresses))
        results += try await InvariantChecks(transfers: workload, outcomes: outcomes, deployment: deployment).databaseChecks()
        if let failoverFaults, let failover = deployment.failover {
            results += try await FailoverChecks(deployment: deployment, failover: failover, schedule: failoverFaults).results()
        }
        await deployment.stopSettled()
        // A batch in PostgreSQL commits whole or not at all: only files have torn tails.
        if failoverFaults == nil { results.append(try await tornTailRecovered(deployment)) }
        results.append(try await auditVerifies(deployment))
        results.append(try await reconcileFindsNothing(deployment))

        say("\ninvariants (docs/design.md, \"Testing and measuring\"):")
        for result in results {
            say("  \(result.passed ? "pass" : "FAIL")  \(result.name) (\(result.detail))")
            for failure in result.failures.prefix(5) { say("          \(failure)") }
            if result.failures.count > 5 { say("          … and \(result.failures.count - 5) more") }
        }
        return results.allSatisfy(\.passed)
    }

    /// What the coordinator says now, after all its restarts, is what each client was told; and
    /// what it says of the path each took, too.
    private func coordinatorAgrees(
        _ workload: [ChaosTransfer], _ outcomes: [WorkloadRunner.Outcome], addresses: [HostPort]
    ) async throws -> InvariantChecks.Result {
        var failures: [String] = []
        try await SettleClient.withFailover(addresses: addresses, token: ChaosDeployment.clientToken) { client in
            for (transfer, outcome) in zip(workload, outcomes) {
                let now = try await client.get(id: transfer.id)
                if now.state != outcome.state || now.path != outcome.path || now.branches.map(\.gid) != outcome.gids {
                    failures.append(
                        "\(transfer.id): client was told \(outcome.state) by \(outcome.path), coordinator says \(now.state) by \(now.path)"
                    )
                }
            }
        }
        return InvariantChecks.Result(
            name: "the coordinator reports every transfer as the client was told", failures: failures, detail: "\(workload.count) asked"
        )
    }

    private func tornTailRecovered(_ deployment: ChaosDeployment) async throws -> InvariantChecks.Result {
        let torn = try FileManager.default.contentsOfDirectory(atPath: deployment.logDirectory).filter { $0.contains(".torn-") }
        return InvariantChecks.Result(
            name: "settled was killed mid-batch and recovered from the torn log tail",
            failures: torn.isEmpty ? ["no torn tail was moved aside"] : [], detail: "\(torn.count) torn tail(s) moved aside"
        )
    }

    private func auditVerifies(_ deployment: ChaosDeployment) async throws -> InvariantChecks.Result {
        let audit = try await ProcessOutput.run(
            deployment.executables + "/settle",
            ["audit", "verify", "--log", deployment.logDirectory, "--public-key", deployment.publicKeyPath]
        )
        let records = audit.output.split(separator: "\n").first { $0.contains("records") }.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
        return InvariantChecks.Result(
            name: "settle audit verify passes", failures: audit.status == 0 ? [] : [audit.output + audit.errorOutput],
            detail: records
        )
    }

    /// The log against the banks' databases, both ways, with every kept order checked.
    private func reconcileFindsNothing(_ deployment: ChaosDeployment) async throws -> InvariantChecks.Result {
        let file = deployment.work + "/participants.json"
        let urls = Dictionary(uniqueKeysWithValues: zip(ChaosDeployment.bankNames, deployment.databaseURLs))
        try? FileManager.default.removeItem(atPath: file)
        let written = FileManager.default.createFile(
            atPath: file, contents: try JSONSerialization.data(withJSONObject: urls), attributes: [.posixPermissions: 0o600]
        )
        guard written else {
            return InvariantChecks.Result(
                name: "settle audit reconcile finds the log and the banks' databases in agreement, both ways",
                failures: ["cannot write \(file)"], detail: ""
            )
        }
        let reconcile = try await ProcessOutput.run(
            deployment.executables + "/settle",
            [
                "audit", "reconcile", "--log", deployment.logDirectory, "--public-key", deployment.publicKeyPath,
                "--coordinator-id", ChaosDeployment.coordinatorID, "--participants", file,
            ]
        )
        let lines = reconcile.output.split(separator: "\n").map(String.init)
        return InvariantChecks.Result(
            name: "settle audit reconcile finds the log and the banks' databases in agreement, both ways",
            failures: reconcile.status == 0 ? [] : Array(lines.dropFirst(5).prefix(10)) + [reconcile.errorOutput].filter { !$0.isEmpty },
            detail: lines.dropFirst().prefix(4).map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: ", ")
        )
    }

    private static func networkCoverage(_ tally: NetworkFaultSchedule.Tally) -> InvariantChecks.Result {
        let counts = NetworkFaultSchedule.Fault.allCases.map { ($0, tally.counts[$0, default: 0]) }
        return InvariantChecks.Result(
            name: "the storm injected every network fault",
            failures: counts.filter { $0.1 == 0 }.map { "\($0.0.rawValue): never injected" }
                + tally.failedInjections.map { "could not inject \($0)" },
            detail: counts.map { "\($0.0.rawValue) \($0.1)" }.joined(separator: ", ")
        )
    }

    private static func report(_ tally: ChaosFailover.Tally) {
        say(
            "  failover: active killed \(tally.activeKills)×, paused past its lease \(tally.pauses)× (exited deposed \(tally.deposedExits)×), "
                + "log database failed over \(tally.databaseFailovers)×"
        )
        let sorted = tally.takeovers.sorted()
        guard !sorted.isEmpty else { return }
        func at(_ share: Int) -> String { sorted[min(sorted.count - 1, sorted.count * share / 100)].formatted(.units(allowed: [.milliseconds])) }
        say(
            "  failover: \(sorted.count) takeovers (death or pause to the standby's ready): min \(at(0)), p50 \(at(50)), p90 \(at(90)), max \(at(100))"
        )
    }

    private static func report(_ tally: NetworkFaultSchedule.Tally) {
        for fault in NetworkFaultSchedule.Fault.allCases {
            say("  network: \(fault.rawValue) \(tally.counts[fault, default: 0])×")
        }
        say(
            "  network: the longest a branch stayed prepared (in doubt) was \(tally.longestInDoubt.formatted(.units(allowed: [.milliseconds]))), "
                + "\(tally.longestInDoubtDuringPartitions.formatted(.units(allowed: [.milliseconds]))) while a bank was partitioned"
        )
    }

    static func seconds(since start: ContinuousClock.Instant) -> String {
        let elapsed = ContinuousClock.now - start
        return "\(elapsed.components.seconds) s"
    }
}
