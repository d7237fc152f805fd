import Foundation
import SettleTestSupport
import Testing

/// A console that cannot listen stops settled with a failure: it must neither hang before
/// "ready" nor serve without the console it was configured with.
@Suite("console start-up", .timeLimit(.minutes(2)))
struct ConsoleStartupTests {
    @Test func aConsolePortInUseStopsSettled() async throws {
        try await withDeployment(startsSettled: false) { deployment throws in
            // bank-a already listens there.
            try deployment.reconfigure(["consoleListen": "127.0.0.1:\(deployment.bankPorts[0])"])
            try deployment.startSettled(waitUntilReady: false)
            let settled = try #require(deployment.settled)
            #expect(try await settled.waitForExit(timeout: .seconds(30)), "settled stops instead of waiting for the console")
            #expect(settled.exitStatus.map { $0 != 0 } == true, "with a failure status")
        }
    }
}
