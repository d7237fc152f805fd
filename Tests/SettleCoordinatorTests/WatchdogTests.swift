import ExampleBank
import Foundation
import PostgresClient
import SettleClient
import SettleProtocol
import SettleTestSupport
import Testing

/// The in-doubt watchdog against real participants: a branch held prepared while another session
/// waits for its row shows in the metrics (prepared branches, their age, the blocked session, the
/// slots in use) with the warnings the thresholds raise, and they clear once the transfer ends.
@Suite("the in-doubt watchdog", .timeLimit(.minutes(3)))
struct WatchdogTests {
    @Test func aPreparedBranchBlockingASessionRaisesTheWatchdogsWarnings() async throws {
        try await withDeployment(
            // The credit is held long enough for every check below on a loaded machine: with 8 s,
            // a fresh-clone CI run saw the transfer commit before the branch was seen old.
            bankArguments: [[], ["--fault-inject-delay", "credit=20000"]],
            configuration: [
                "prepareTimeoutMilliseconds": 60_000, "watchdogIntervalMilliseconds": 200, "watchdogOldestPreparedSeconds": 1,
                "watchdogBlockedSessions": 1,
            ]
        ) { deployment throws in
            async let transfer = deployment.client {
                try await $0.submit(id: "held-1", branches: Deployment.branches(amount: 10, fromA: true, account: 2), wait: true)
            }
            try await waitUntil(timeout: .seconds(6), "held-1's debit prepared at bank-a") {
                (try? await deployment.client { try await $0.get(id: "held-1") })?.branches[0].state == "prepared"
            }
            // Someone else's session wants the same row: it waits until the branch commits.
            async let blocked = deployment.pools[0].query("UPDATE accounts SET balance = balance WHERE id = 'a2'")
            func gauge(_ name: String, _ labels: String...) async throws -> Double? {
                let line = try await deployment.metrics().split(separator: "\n").first { line in
                    line.hasPrefix("\(name){") && labels.allSatisfy { line.contains($0) }
                }
                return line.flatMap { $0.split(separator: " ").last }.flatMap { Double($0) }
            }
            try await waitUntil(timeout: .seconds(5), "the watchdog sees the blocked session") {
                try await gauge("settle_watchdog_blocked_sessions", #"participant="bank-a""#) == 1
            }
            #expect(try await gauge("settle_watchdog_prepared_branches", #"participant="bank-a""#) == 1)
            #expect(try await gauge("settle_watchdog_prepared_slots_used", #"participant="bank-a""#) ?? 0 >= 1)
            #expect(try await gauge("settle_watchdog_prepared_slots_max", #"participant="bank-a""#) ?? 0 >= 1)
            #expect(try await gauge("settle_watchdog_warning", #"kind="blocking""#, #"participant="bank-a""#) == 1)
            try await waitUntil(timeout: .seconds(5), "the branch is older than the one-second threshold") {
                try await gauge("settle_watchdog_warning", #"kind="old""#, #"participant="bank-a""#) == 1
            }
            #expect(try await gauge("settle_watchdog_oldest_prepared_seconds", #"participant="bank-a""#) ?? 0 >= 1)
            #expect(try await gauge("settle_watchdog_reachable", #"participant="bank-b""#) == 1)
            // Every metric the alert rules ask for is exported.
            let exported = try await deployment.metrics()
            for name in try AlertRulesTests.metricNames() {
                #expect(exported.contains("\n\(name){") || exported.contains("\n\(name) "), "settled exports \(name)")
            }

            #expect(try await transfer.state == .committed)
            _ = try await blocked
            try await waitUntil(timeout: .seconds(5), "the warnings clear") {
                let blockedSessions = try await gauge("settle_watchdog_blocked_sessions", #"participant="bank-a""#)
                let old = try await gauge("settle_watchdog_warning", #"kind="old""#, #"participant="bank-a""#)
                return blockedSessions == 0 && old == 0
            }
            try await expectEveryInvariant(deployment)
        }
    }
}
