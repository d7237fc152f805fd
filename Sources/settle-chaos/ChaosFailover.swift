import Foundation
import LaunchedProcesses
import PostgresClient
import Synchronization

/// `tools/chaos --failover`: the log lives in PostgreSQL (a primary with a synchronous standby),
/// two settled serve the one coordinator id (one active, one standby), and the storm adds kills
/// and long pauses of the active one and, once, the loss of the log's primary database.
struct ChaosFailover: Sendable {
    static let leaseMilliseconds = 1000

    /// libpq's multi-host URL of the log's primary and standby.
    let logURL: String
    /// The tools/pg directory of that pair, for `tools/pg failover`.
    let databaseDirectory: String
    let toolsDirectory: String
    /// Each slot's fixed API port, which clients know both of.
    let apiPorts: [Int]

    /// What the storm did and saw, for the report and the coverage check.
    struct Tally: Sendable {
        var activeKills = 0
        var pauses = 0
        /// Paused past the lease, then woken: exited by itself with status 75.
        var deposedExits = 0
        var databaseFailovers = 0
        /// From the active one's death (or pause) to the standby's "settled ready".
        var takeovers: [Duration] = []
        var failures: [String] = []
    }
}

extension ChaosDeployment {
    /// Starts whichever slot is down: the first as the active one if none serves yet, the other as
    /// a standby (its ready line is "settled standby" until it takes over).
    func startSlots(crashAt: String?) async throws {
        guard let failover else { return }
        for index in slots.indices where !(slots[index]?.isRunning ?? false) {
            let process = try await LaunchedProcess.launch(
                executable: executables + "/settled",
                ["--config", work + "/settled.json", "--listen", "127.0.0.1:\(failover.apiPorts[index])"],
                environment: crashAt.map { ["SETTLE_CRASH_AT": $0] } ?? [:], readyPrefix: "settled ",
                errorLogPath: work + "/settled-\(index).err"
            )
            slots[index] = process
        }
    }

    /// The slot serving now: its process printed "settled ready".
    func activeSlot() async -> Int? {
        for (index, slot) in slots.enumerated() {
            guard let slot, slot.isRunning else { continue }
            if await Self.serves(slot) { return index }
        }
        return nil
    }

    /// Whether the process printed "settled ready": it took the lease at some point.
    private static func serves(_ slot: LaunchedProcess) async -> Bool {
        if slot.readyLine.hasPrefix("settled ready") { return true }
        return (try? await slot.line(startingWith: "settled ready", timeout: .zero)) != nil
    }

    func killActiveSlot() async {
        guard let active = await activeSlot() else { return }
        await kill(slots[active])
    }

    /// SIGSTOP on the active slot; the caller sends SIGCONT after the lease has run out.
    func pauseActiveSlot() async -> LaunchedProcess? {
        guard let active = await activeSlot(), let process = slots[active] else { return nil }
        process.send(SIGSTOP)
        return process
    }

    /// Waits (at most 30 s) until a slot other than `previous` serves; how long that took.
    func awaitTakeover(from previous: LaunchedProcess?, since: ContinuousClock.Instant) async -> Duration? {
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            // Not activeSlot(): a paused predecessor still runs and once printed its ready line.
            for slot in slots {
                guard let slot, slot !== previous, slot.isRunning else { continue }
                if await Self.serves(slot) { return ContinuousClock.now - since }
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return nil
    }
}
