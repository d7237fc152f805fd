import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import SettleClient
import SettleProtocol
import SettleTestSupport
import Testing

/// Who may do what at settled's API: every refusal is PERMISSION_DENIED naming the permission,
/// is counted, and leaves the log and the banks as they were.
@Suite("client identities and permissions", .timeLimit(.minutes(5)))
struct PermissionTests {
    func branch(_ participant: String, _ action: String, _ account: String, _ amount: Int, compensation: String = "") -> SettleClient.Branch {
        SettleClient.Branch(
            participant: participant, action: action, payload: #"{"account":"\#(account)","amount":\#(amount)}"#, compensation: compensation
        )
    }

    @Test func aClientSubmittingWhatItLacksIsRefusedAndNothingMoves() async throws {
        try await withDeployment { deployment throws in
            // payments may credit only at bank-b: a lone credit at bank-a would mint money there.
            let mint = await rpcFailure {
                _ = try await deployment.client(token: paymentsToken) {
                    try await $0.submit(id: "mint", branches: [branch("bank-a", "credit", "a1", 1_000_000)], wait: true)
                }
            }
            #expect(mint?.code == .permissionDenied)
            #expect(mint?.message.contains("lacks permission: submit bank-a action credit") == true, "\(String(describing: mint))")
            let oddCompensation = await rpcFailure {
                _ = try await deployment.client(token: paymentsToken) {
                    try await $0.submit(
                        id: "odd",
                        branches: [branch("bank-a", "debit", "a1", 5, compensation: "reverse-credit"), branch("bank-b", "credit", "b1", 5)],
                        wait: true
                    )
                }
            }
            #expect(oddCompensation?.message.contains("compensation reverse-credit") == true, "\(String(describing: oddCompensation))")
            let operatorMoving = await rpcFailure {
                _ = try await deployment.client(token: aliceToken) {
                    try await $0.submit(
                        id: "alice-pays", branches: [branch("bank-a", "debit", "a1", 5), branch("bank-b", "credit", "b1", 5)], wait: true)
                }
            }
            #expect(operatorMoving?.code == .permissionDenied, "an operator submits nothing it is not granted")
            let unknown = await rpcFailure {
                _ = try await SettleClient.withClient(host: "127.0.0.1", port: deployment.apiPort, token: "not-a-client-token-0123456789") {
                    try await $0.get(id: "mint")
                }
            }
            #expect(unknown?.code == .unauthenticated)

            for id in ["mint", "odd", "alice-pays"] {
                let lookup = await rpcFailure { _ = try await deployment.client { try await $0.get(id: id) } }
                #expect(lookup?.code == .notFound, "\(id) was never accepted")
            }
            #expect(try await deployment.postingCounts("mint") == [0, 0])
            let metrics = try await deployment.metrics()
            #expect(metrics.contains(#"settle_api_refused_total{reason="permission",permission="submit"} 3"#), "\(metrics)")
            #expect(metrics.contains(#"settle_api_refused_total{reason="unauthenticated",permission=""} 1"#))
            try await expectEveryInvariant(deployment)
        }
    }

    @Test func aClientReadsOnlyItsOwnTransfersAndCannotTakeAnothersID() async throws {
        try await withDeployment { deployment throws in
            let theirs = try await deployment.client {
                try await $0.submit(id: "theirs", branches: [branch("bank-a", "debit", "a2", 10), branch("bank-b", "credit", "b2", 10)], wait: true)
            }
            #expect(theirs.state == .committed && theirs.submittedBy == "tests")
            let mine = try await deployment.client(token: paymentsToken) {
                try await $0.submit(id: "mine", branches: [branch("bank-a", "debit", "a3", 10), branch("bank-b", "credit", "b3", 10)], wait: true)
            }
            #expect(mine.state == .committed && mine.submittedBy == "payments")

            #expect(try await deployment.client(token: paymentsToken) { try await $0.get(id: "mine") }.state == .committed)
            let other = await rpcFailure { _ = try await deployment.client(token: paymentsToken) { try await $0.get(id: "theirs") } }
            let missing = await rpcFailure { _ = try await deployment.client(token: paymentsToken) { try await $0.get(id: "nowhere") } }
            #expect(other?.code == .permissionDenied && missing?.code == .permissionDenied, "existence is not revealed")
            #expect(other?.message == missing?.message)
            let listed = try await deployment.client(token: paymentsToken) { try await $0.list() }
            #expect(listed.transfers.map(\.transferID) == ["mine"])
            #expect(try await deployment.client(token: aliceToken) { try await $0.list() }.transfers.count == 2, "an operator reads all")

            // The same body under another client's id: refused without showing the first.
            let taken = await rpcFailure {
                _ = try await deployment.client(token: paymentsToken) {
                    try await $0.submit(
                        id: "theirs", branches: [branch("bank-a", "debit", "a2", 10), branch("bank-b", "credit", "b2", 10)], wait: true)
                }
            }
            #expect(taken?.code == .alreadyExists)
            #expect(taken?.message == "transfer id 'theirs' is taken by another client")
            #expect(try await deployment.postingCounts("theirs") == [1, 1], "moved once")
            try await expectEveryInvariant(deployment)
        }
    }

    @Test func onlyOperatorsResolveAndTheRecordNamesTheCredentialNotATypedName() async throws {
        try await withDeployment { deployment throws in
            let byService = await rpcFailure {
                _ = try await deployment.client(token: paymentsToken) { try await $0.resolve(id: "any", outcome: .aborted, reason: "r") }
            }
            #expect(byService?.code == .permissionDenied)
            #expect(byService?.message.contains("lacks permission: operator") == true)

            // A typed name that is not the caller's is refused outright.
            let impersonation = await rpcFailure {
                try await withGRPCClient(
                    transport: .http2NIOPosix(target: .ipv4(address: "127.0.0.1", port: deployment.apiPort), transportSecurity: .plaintext)
                ) { client in
                    var request = Settle_V1_ResolveRequest()
                    request.transferID = "any"
                    request.outcome = .aborted
                    request.reason = "r"
                    request.operator = "bob"
                    _ = try await Settle_V1_Coordinator.Client(wrapping: client).resolve(
                        request, metadata: ["authorization": "Bearer \(aliceToken)"]
                    )
                }
            }
            #expect(impersonation?.code == .invalidArgument)
            #expect(impersonation?.message.contains("taken from your credential (alice)") == true)
            try await expectEveryInvariant(deployment)
        }
    }

    @Test func showAndListEscapeControlCharactersFromParticipants() async throws {
        try await withDeployment { deployment throws in
            // An account name that would retitle the operator's terminal, echoed in bank-a's refusal.
            let account = "x\\u001b]0;owned\\u0007\\u001b[2J"
            let refused = try await deployment.client {
                try await $0.submit(id: "escape", branches: [branch("bank-a", "debit", account, 1), branch("bank-b", "credit", "b1", 1)], wait: true)
            }
            #expect(refused.reason.contains("\u{1b}]0;owned"), "the reason holds the raw escape")
            let coordinator = ["--coordinator", "127.0.0.1:\(deployment.apiPort)", "--token", clientToken]
            for arguments in [["show", "escape"], ["list", "--state", "aborted"]] {
                let printed = try run("settle", ["transfer"] + arguments.prefix(1) + coordinator + arguments.dropFirst())
                #expect(printed.status == 0, "\(printed.errorOutput)")
                #expect(!printed.output.unicodeScalars.contains { $0.value == 0x1B || $0.value == 0x07 }, "\(arguments)")
                #expect(printed.output.contains(#"x\u{1b}]0;owned\u{7}\u{1b}[2J"#), "\(printed.output)")
            }
        }
    }
}
