import Foundation
import SettleTestSupport
import Testing

@Suite("settle transfer submit|show|list", .timeLimit(.minutes(5)))
struct TransferCommandTests {
    @Test func operatorsSubmitShowAndListFromTheCommandLine() async throws {
        try await withDeployment { deployment throws in
            let coordinator = ["--coordinator", "127.0.0.1:\(deployment.apiPort)", "--token", clientToken]
            let submitted = try run(
                "settle",
                ["transfer", "submit"] + coordinator + [
                    "--id", "cli-1", "--wait",
                    "--branch", #"bank-a:debit:{"account":"a5","amount":70}:refund"#,
                    "--branch", #"bank-b:credit:{"account":"b5","amount":70}:reverse-credit"#,
                ])
            #expect(submitted.status == 0, "\(submitted.errorOutput)")
            #expect(submitted.output.hasPrefix("transfer cli-1: committed"), "\(submitted.output)")
            let gidPrefix = "settle:\(deployment.coordinatorID):1:"
            #expect(submitted.output.contains(gidPrefix) && submitted.output.contains(":cli-1:0  bank-a/debit  committed"))
            #expect(try await deployment.postingCounts("cli-1") == [1, 1])

            let refused = try run(
                "settle",
                ["transfer", "submit"] + coordinator + [
                    "--id", "cli-2", "--wait",
                    "--branch", #"bank-a:debit:{"account":"a5","amount":999999}"#,
                    "--branch", #"bank-b:credit:{"account":"b5","amount":999999}"#,
                ])
            #expect(refused.output.hasPrefix("transfer cli-2: aborted"), "\(refused.output)")
            #expect(refused.output.contains("insufficient funds"))

            let shown = try run("settle", ["transfer", "show"] + coordinator + ["cli-1"])
            #expect(shown.output.hasPrefix("transfer cli-1: committed"))
            let listed = try run("settle", ["transfer", "list"] + coordinator + ["--state", "aborted"])
            #expect(listed.output.split(separator: "\n").map { $0.split(separator: " ").first.map(String.init) } == ["cli-2"])

            let unknown = try run("settle", ["transfer", "show"] + coordinator + ["nobody"])
            #expect(unknown.status == 1)
            #expect(unknown.errorOutput.contains("no transfer"))
            let badBranch = try run("settle", ["transfer", "submit"] + coordinator + ["--id", "x", "--branch", "nonsense"])
            #expect(badBranch.status != 0 && badBranch.status != 1, "a usage error, not a failed call")
            #expect(badBranch.errorOutput.contains("participant:action:payload"))
            let badToken = try run(
                "settle", ["transfer", "show", "--coordinator", "127.0.0.1:\(deployment.apiPort)", "--token", "wrong-0123456789abcdef", "cli-1"])
            #expect(badToken.status == 1)
            #expect(badToken.errorOutput.contains("unauthenticated"))
        }
    }
}
