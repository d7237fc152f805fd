import Foundation
import LaunchedProcesses
import Synchronization

/// The faults of `tools/chaos --failover`, drawn from the seed, one at a time: every 2–5 s the
/// active settled is killed (SIGKILL) or paused (SIGSTOP) past its lease and woken after the
/// standby took over, when it must exit by itself (status 75) having sealed nothing; once, after
/// a few of those, the log's primary database is killed and its synchronous standby promoted
/// (`tools/pg failover`). Whatever died is restarted as the new standby.
final class FailoverFaultSchedule: Sendable {
    let deployment: ChaosDeployment
    let failover: ChaosFailover
    let generator: SeededGenerator
    let tally = Mutex(ChaosFailover.Tally())
    /// Per bank: each epoch of the coordinator, and when that bank first recorded it (µs).
    let firstSeen = Mutex<[[Int64: Int64]]>(Array(repeating: [:], count: ChaosDeployment.bankNames.count))

    init(deployment: ChaosDeployment, failover: ChaosFailover, generator: SeededGenerator) {
        self.deployment = deployment
        self.failover = failover
        self.generator = generator
    }

    /// Runs until cancelled, then brings both slots back.
    func run() async {
        var generator = generator
        var faults = 0
        while !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(Int.random(in: 2000...5000, using: &generator)))
            if Task.isCancelled { break }
            faults += 1
            if faults == 5 {
                await failDatabaseOver()
            } else if faults % 2 == 1 || Bool.random(using: &generator) {
                await killActive()
            } else {
                await pauseActive(for: .milliseconds(ChaosFailover.leaseMilliseconds * Int.random(in: 2...4, using: &generator)))
            }
            await restartDeadSlots()
        }
        await restartDeadSlots()
    }

    private func killActive() async {
        guard let active = await deployment.activeSlot() else { return }
        let victim = await deployment.slots[active]
        await deployment.kill(victim)
        let since = ContinuousClock.now
        tally.withLock { $0.activeKills += 1 }
        await recordTakeover(from: victim, since: since, after: "a kill")
    }

    private func pauseActive(for pause: Duration) async {
        guard let paused = await deployment.pauseActiveSlot() else { return }
        let since = ContinuousClock.now
        tally.withLock { $0.pauses += 1 }
        await recordTakeover(from: paused, since: since, after: "a pause")
        try? await Task.sleep(until: since + pause)
        paused.send(SIGCONT)
        let exited = (try? await paused.waitForExit(timeout: .seconds(10))) ?? false
        tally.withLock { tally in
            if exited && paused.process.terminationStatus == 75 {
                tally.deposedExits += 1
            } else {
                tally.failures.append(
                    exited
                        ? "a coordinator woken after its lease was taken exited with \(paused.process.terminationStatus), not 75"
                        : "a coordinator woken after its lease was taken was still running 10 s later")
            }
        }
        if !exited { await deployment.kill(paused) }
    }

    private func failDatabaseOver() async {
        var active: LaunchedProcess?
        if let index = await deployment.activeSlot() { active = await deployment.slots[index] }
        let since = ContinuousClock.now
        let result = try? await ProcessOutput.run(
            "/bin/bash", [failover.toolsDirectory + "/pg", "failover", "--dir", failover.databaseDirectory]
        )
        tally.withLock { tally in
            if result?.status == 0 {
                tally.databaseFailovers += 1
            } else {
                tally.failures.append("tools/pg failover failed: \(result?.errorOutput ?? "did not run")")
            }
        }
        // The active settled loses its log's connection and stops; the standby takes over on the
        // promoted database once the lease (replicated with everything else) expires.
        await restartDeadSlots()
        await recordTakeover(from: active, since: since, after: "the log's database failover")
    }

    private func recordTakeover(from previous: LaunchedProcess?, since: ContinuousClock.Instant, after what: String) async {
        let took = await deployment.awaitTakeover(from: previous, since: since)
        tally.withLock { tally in
            if let took { tally.takeovers.append(took) } else { tally.failures.append("no standby took over within 30 s of \(what)") }
        }
    }

    /// Returns once every kind of fault has happened (or after three minutes): the storm's last
    /// transfers wait for it, so a fast storm still runs through a database failover.
    func everyKindHappened() async {
        await Polling.until(atMost: .seconds(180)) {
            tally.withLock { $0.activeKills > 0 && $0.pauses > 0 && $0.databaseFailovers > 0 }
        }
    }

    /// Samples every 200 ms when each bank first recorded each epoch of the coordinator (its
    /// `settle_coordinator_epochs.seen_at`, in microseconds), for the stale-Prepare check.
    func sampleEpochs() async {
        while !Task.isCancelled {
            for (bank, pool) in deployment.pools.enumerated() {
                let rows = try? await pool.query(
                    """
                    SELECT epoch, (extract(epoch FROM seen_at) * 1000000)::bigint AS seen
                    FROM settle_coordinator_epochs WHERE coordinator_id = $1
                    """,
                    [ChaosDeployment.coordinatorID]
                )
                guard let row = rows?.first, let epoch = try? row.decode(Int64.self, column: "epoch"),
                    let seen = try? row.decode(Int64.self, column: "seen")
                else { continue }
                firstSeen.withLock { firstSeen in firstSeen[bank][epoch] = min(firstSeen[bank][epoch] ?? .max, seen) }
            }
            try? await Task.sleep(for: .milliseconds(200))
        }
    }

    private func restartDeadSlots() async {
        await Polling.retryingStart { try await deployment.startSlots(crashAt: nil) }
    }
}
