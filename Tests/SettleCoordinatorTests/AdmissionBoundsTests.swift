import Foundation
import GRPCCore
import SettleClient
import SettleProtocol
import SettleTestSupport
import Testing

/// The bounds settled promises on what a client may ask, each answered with its code and a
/// message naming the bound, against a real deployment.
@Suite("admission and request bounds", .timeLimit(.minutes(2)))
struct AdmissionBoundsTests {
    /// At `inFlightTransfersMax` a Submit is RESOURCE_EXHAUSTED; once the transfer in flight
    /// finishes, the same Submit is admitted.
    @Test func submitBeyondTheInFlightBoundIsResourceExhausted() async throws {
        try await withDeployment(configuration: ["inFlightTransfersMax": 1, "prepareTimeoutMilliseconds": 60_000]) { deployment throws in
            try await deployment.pools[1].withConnection { blocker in
                try await blocker.query("BEGIN")
                try await blocker.query("SELECT 1 FROM accounts WHERE id = 'b4' FOR UPDATE")
                _ = try await deployment.client { try await $0.submit(id: "held", branches: Deployment.branches(amount: 3, fromA: true, account: 4)) }
                let full = await #expect(throws: RPCError.self) {
                    _ = try await deployment.client {
                        try await $0.submit(id: "next", branches: Deployment.branches(amount: 3, fromA: true, account: 5))
                    }
                }
                #expect(full?.code == .resourceExhausted)
                #expect(full?.message.contains("1 transfers are in flight") == true, "\(full?.message ?? "")")
                try await blocker.query("COMMIT")
            }
            try await waitUntil(timeout: .seconds(30), "held committed") {
                try await deployment.client { try await $0.get(id: "held") }.state == .committed
            }
            let next = try await deployment.client {
                try await $0.submit(id: "next", branches: Deployment.branches(amount: 3, fromA: true, account: 5), wait: true)
            }
            #expect(next.state == .committed)
            try await expectEveryInvariant(deployment)
        }
    }

    /// Resolve checks its arguments before it looks for the transfer.
    @Test func resolveArgumentsOutOfBoundsAreInvalidArguments() async throws {
        try await withDeployment { deployment throws in
            let cases: [(String, Settle_V1_TransferState, String)] = [
                ("empty reason", .compensated, ""),
                ("reason over 1024 bytes", .compensated, String(repeating: "r", count: 1025)),
                ("an outcome that is not final", .preparing, "refunded"),
                ("stuck is not an outcome", .stuck, "refunded"),
            ]
            for (name, outcome, reason) in cases {
                let failure = await #expect(throws: RPCError.self, "\(name)") {
                    _ = try await deployment.client { try await $0.resolve(id: "any", outcome: outcome, reason: reason) }
                }
                #expect(failure?.code == .invalidArgument, "\(name): \(String(describing: failure))")
            }
            let notFound = await #expect(throws: RPCError.self) {
                _ = try await deployment.client { try await $0.resolve(id: "any", outcome: .aborted, reason: "r") }
            }
            #expect(notFound?.code == .notFound)
            try await expectEveryInvariant(deployment)
        }
    }
}
