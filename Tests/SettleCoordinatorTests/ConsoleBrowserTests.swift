import ExampleBank
import Foundation
import SettleClient
import SettleProtocol
import SettleTestSupport
import Testing

/// The operator's console in a real browser (headless Chromium driven by Selenium, installed by
/// tools/install-deps): Tests/Browser/console_browser.py logs in, finds a transfer and its
/// timeline, resolves a stuck transfer under four-eyes, presses retry now, and is refused without
/// the permission or the CSRF token. Screenshots go to .build/test-output/console.
@Suite("the operator's console in a browser", .timeLimit(.minutes(5)))
struct ConsoleBrowserTests {
    static var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    @Test func anOperatorFindsResolvesAndRetriesTransfersInABrowser() async throws {
        try await withDeployment(
            bankArguments: [["--fault-inject-fail", "refund"], ["--fault-inject-delay", "credit=1500"]],
            configuration: ["fourEyesResolution": true], startsSettled: false
        ) { deployment throws in
            try deployment.startSettled()
            let committed = try await deployment.client {
                try await $0.submit(id: "paid-1", branches: Deployment.branches(amount: 100, fromA: false, account: 3), wait: true)
            }
            #expect(committed.state == .committed)
            // A saga whose credit is refused late and whose refund keeps failing: stuck.
            let stuck = try await deployment.client {
                try await $0.submit(
                    id: "stuck-1",
                    branches: [
                        SettleClient.Branch(
                            participant: "bank-a", action: "debit", payload: #"{"account":"a7","amount":300}"#, compensation: "refund"
                        ),
                        SettleClient.Branch(
                            participant: "bank-b", action: "credit", payload: #"{"account":"nobody","amount":300}"#,
                            compensation: "reverse-credit"
                        ),
                    ],
                    prepareTimeout: .milliseconds(400), sagaFallback: true, sagaTimeout: .seconds(20), compensationRetriesMax: 2,
                    wait: true, timeout: .seconds(60)
                )
            }
            #expect(stuck.state == .stuck)
            // What the operator checked and did by hand before resolving it as compensated.
            try await deployment.pools[0].query("UPDATE accounts SET balance = balance + 300 WHERE id = 'a7'")

            // Retries a minute apart from here on, and bank-b down: the next transfer's Rollback
            // there waits a minute for its second attempt unless someone presses retry now.
            try deployment.reconfigure(["retryInitialMilliseconds": 60_000, "retryMaxMilliseconds": 60_000])
            deployment.settled?.stop()
            try deployment.startSettled()
            deployment.banks[1].stop()
            let retrying = Task {
                try await deployment.client {
                    try await $0.submit(
                        id: "retry-1", branches: Deployment.branches(amount: 100, fromA: true, account: 4),
                        prepareTimeout: .milliseconds(400), wait: true, timeout: .seconds(120)
                    )
                }
            }
            try await waitUntil(timeout: .seconds(20), "retry-1's rollback at bank-b waits to be retried") {
                let transfer = try? await deployment.client { try await $0.get(id: "retry-1") }
                return transfer?.state == .aborting
            }
            try deployment.startBank(1, port: deployment.bankPorts[1])

            let output = Self.packageRoot.appendingPathComponent(".build/test-output/console").path
            let browser = try runExecutable(
                at: "/usr/bin/env",
                [
                    "python3", Self.packageRoot.appendingPathComponent("Tests/Browser/console_browser.py").path,
                    "--url", "http://127.0.0.1:\(deployment.consolePort)", "--alice", aliceToken, "--bob", bobToken,
                    "--viewer", viewerToken, "--payments", paymentsToken, "--committed", "paid-1", "--stuck", "stuck-1",
                    "--retrying", "retry-1", "--out", output,
                ],
                timeout: .seconds(180)
            )
            #expect(browser.status == 0, "\(browser.output)\n\(browser.errorOutput)")
            #expect(try await retrying.value.state == .aborted)
            for page in ["login", "overview", "transfers", "transfer", "stuck", "in-doubt", "participants"] {
                #expect(FileManager.default.fileExists(atPath: "\(output)/\(page).png"), "a screenshot of \(page)")
            }

            // Every action is on the record, under the operator who took it.
            let dump = try run("settle", ["audit", "dump", "--log", deployment.logDirectory]).output
            #expect(hasRecord(dump, "PROPOSED", #""operator":"alice""#, #""transfer":"stuck-1""#))
            #expect(hasRecord(dump, "MANUAL", #""approvedBy":"bob""#, #""operator":"alice""#, #""transfer":"stuck-1""#))
            #expect(hasRecord(dump, "RETRY", #""operator":"bob""#, #""transfer":"retry-1""#))
            #expect(!hasRecord(dump, "MANUAL", #""operator":"viewer""#))
            try await expectEveryInvariant(deployment)
        }
    }
}
