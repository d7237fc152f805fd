import Foundation
import SettleCore
import Testing

@Suite("transfer spec bounds")
struct TransferSpecTests {
    let participants: Set<String> = ["bank-a", "bank-b"]

    func spec(id: String = "t-1", branches: [TransferSpec.Branch]? = nil, policy: TransferSpec.Policy = .init()) -> TransferSpec {
        TransferSpec(
            id: id,
            branches: branches ?? [
                .init(participant: "bank-a", action: "debit", payload: Data(#"{"amount":1}"#.utf8), compensation: "refund"),
                .init(participant: "bank-b", action: "credit", payload: Data(#"{"amount":1}"#.utf8)),
            ],
            policy: policy
        )
    }

    @Test func aWellFormedSpecPasses() throws {
        try spec().validate(participants: participants)
    }

    @Test(arguments: [
        ("bad id", "has:colon"),
        ("empty id", ""),
        ("long id", String(repeating: "x", count: 129)),
    ])
    func badIDsAreRefused(_ case: (String, String)) {
        #expect(throws: SpecError.self, "\(`case`.0)") { try spec(id: `case`.1).validate(participants: participants) }
    }

    @Test func branchBoundsAreChecked() throws {
        let valid = TransferSpec.Branch(participant: "bank-a", action: "debit", payload: Data("{}".utf8))
        #expect(throws: SpecError.self) { try spec(branches: []).validate(participants: participants) }
        #expect(throws: SpecError.self) { try spec(branches: Array(repeating: valid, count: 33)).validate(participants: participants) }
        try spec(branches: Array(repeating: valid, count: 32)).validate(participants: participants)
        let unknown = #expect(throws: SpecError.self) {
            try spec(branches: [.init(participant: "bank-z", action: "debit", payload: Data())]).validate(participants: participants)
        }
        #expect(unknown?.message.contains("bank-z") == true)
        #expect(unknown?.message.contains("bank-a, bank-b") == true, "names the configured participants")
        #expect(throws: SpecError.self) {
            try spec(branches: [.init(participant: "bank-a", action: "Debit", payload: Data())]).validate(participants: participants)
        }
        #expect(throws: SpecError.self) {
            try spec(branches: [.init(participant: "bank-a", action: "debit", payload: Data(count: 64 * 1024 + 1))])
                .validate(participants: participants)
        }
        #expect(throws: SpecError.self) {
            try spec(policy: .init(prepareTimeoutMilliseconds: 600_001)).validate(participants: participants)
        }
    }

    /// The protocol says payloads are JSON objects; anything else is refused before it is logged.
    @Test(arguments: ["", "[1]", "42", "\"text\"", "{", "{\"a\":1} trailing", "{\"a\":\u{1}}", String(repeating: "[", count: 10_000)])
    func payloadsThatAreNotJSONObjectsAreRefused(_ payload: String) {
        let branch = TransferSpec.Branch(participant: "bank-a", action: "debit", payload: Data(payload.utf8))
        let error = #expect(throws: SpecError.self) { try spec(branches: [branch]).validate(participants: participants) }
        #expect(error?.message.contains("JSON object") == true)
        let badCompensation = TransferSpec.Branch(
            participant: "bank-a", action: "debit", payload: Data("{}".utf8), compensation: "refund",
            compensationPayload: Data((payload.isEmpty ? "[]" : payload).utf8)
        )
        #expect(throws: SpecError.self) { try spec(branches: [badCompensation]).validate(participants: participants) }
    }
}
