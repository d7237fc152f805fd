import Foundation
import SettleTestSupport
import SignedLog
import Testing

/// `treeHeadFile`: settled publishes its log's signed tree head for an external witness; the
/// heads a witness collects are genuine and the log provably extends each earlier one.
@Suite("Publishing the signed tree head", .timeLimit(.minutes(5)))
struct TreeHeadPublisherTests {
    @Test func aWitnessCollectsHeadsThatTheLogProvablyExtends() async throws {
        let witness = try TemporaryDirectory()
        let published = witness.subpath("head.json")
        try await withDeployment(configuration: ["treeHeadFile": published, "treeHeadIntervalMilliseconds": 100]) { deployment throws in
            let key = try VerifyingKey(pemFile: deployment.publicKeyPath)
            var collected: [TreeHead] = []
            for index in 0..<2 {
                let transfer = try await deployment.client {
                    try await $0.submit(id: "witnessed-\(index)", branches: Deployment.branches(amount: 5, fromA: true, account: index), wait: true)
                }
                #expect(transfer.state == .committed)
                let sealed = try await deployment.client { try await $0.get(id: "witnessed-\(index)") }.decisionLsn
                try await waitUntil(timeout: .seconds(10), "a head covering transfer \(index)'s COMMIT is published") {
                    guard let bytes = try? readBytes(published),
                        let head = try? CanonicalJSON.decode(TreeHead.self, from: bytes, what: "head")
                    else { return false }
                    guard head.treeSize >= sealed else { return false }
                    collected.append(head)
                    return true
                }
            }
            #expect(collected.count == 2)
            for head in collected { #expect(head.problem(verifiedWith: key) == nil, "a genuine head") }
            #expect(collected[0].treeSize < collected[1].treeSize)

            deployment.settled?.stop()
            let heads = (0..<2).map { witness.subpath("head-\($0).json") }
            for (head, path) in zip(collected, heads) { try writeBytes(try CanonicalJSON.encode(head), to: path) }
            let proof = witness.subpath("proof.json")
            let consistency = try run(
                "settle",
                [
                    "audit", "consistency", heads[0], heads[1], "--log", deployment.logDirectory, "--public-key", deployment.publicKeyPath, "--out",
                    proof,
                ]
            )
            #expect(consistency.status == 0, "\(consistency.errorOutput)")
            let checked = try run("settle", ["audit", "check-consistency", proof, "--public-key", deployment.publicKeyPath])
            #expect(checked.status == 0, "\(checked.errorOutput)")
        }
    }
}
