import Foundation
import SettleAuth
import SettleCore
import Testing

@testable import SettleCoordinator

/// What a client's permissions admit, without a server.
@Suite struct ClientPermissionTests {
    func spec(_ branches: (String, String, String)...) -> TransferSpec {
        TransferSpec(
            id: "t",
            branches: branches.map { participant, action, compensation in
                TransferSpec.Branch(participant: participant, action: action, payload: Data("{}".utf8), compensation: compensation)
            }
        )
    }

    let payments = ClientConfiguration(
        name: "payments", credential: TokenSource(tokenSHA256: String(repeating: "ab", count: 32)),
        submit: [
            .init(participant: "bank-a", actions: ["debit"], compensations: ["refund"]),
            .init(participant: "bank-b", actions: ["credit"]),
        ]
    )

    @Test func eachBranchNeedsItsActionAndItsNamedCompensation() {
        #expect(payments.refusal(toSubmit: spec(("bank-a", "debit", "refund"), ("bank-b", "credit", ""))) == nil)
        #expect(
            payments.refusal(toSubmit: spec(("bank-b", "debit", ""))) == "client payments lacks permission: submit bank-b action debit (branch 0)")
        #expect(
            payments.refusal(toSubmit: spec(("bank-a", "debit", "refund"), ("bank-b", "credit", "reverse-credit")))
                == "client payments lacks permission: submit bank-b compensation reverse-credit (branch 1)"
        )
        #expect(payments.refusal(toSubmit: spec(("bank-c", "debit", ""))) != nil, "an unlisted participant grants nothing")
    }

    /// A compensation runs with its action's payload unless the client may choose another: else a
    /// debit of 1 could carry a refund of a million.
    @Test func aCompensationPayloadOfItsOwnNeedsItsOwnPermission() {
        var spec = spec(("bank-a", "debit", "refund"))
        spec.branches[0].compensationPayload = Data(#"{"account":"mallory","amount":1000000}"#.utf8)
        #expect(payments.refusal(toSubmit: spec) == "client payments lacks permission: submit bank-a compensationPayloads (branch 0)")
        var trusted = payments
        trusted.submit[0].compensationPayloads = true
        #expect(trusted.refusal(toSubmit: spec) == nil)
    }

    @Test func aWildcardGrantsEveryNameAtItsParticipantOnly() {
        let broad = ClientConfiguration(
            name: "ops", credential: TokenSource(tokenSHA256: String(repeating: "cd", count: 32)),
            submit: [.init(participant: "bank-a", actions: ["*"], compensations: ["*"])]
        )
        #expect(broad.refusal(toSubmit: spec(("bank-a", "anything", "undo-anything"))) == nil)
        #expect(broad.refusal(toSubmit: spec(("bank-b", "credit", ""))) != nil)
    }

    @Test func readScopesSeeWhatTheySay() {
        func entry(submittedBy: String?) -> TransferEntry {
            let sealed = TransferRegistry.Sealed(
                spec: spec(("bank-a", "debit", "")), admission: Admission.random(), submittedAtMilliseconds: 0, submittedBy: submittedBy
            )
            return TransferEntry(.init(sealed: sealed, live: .init(branchStates: ["pending"], acceptedRecordBytes: 0)))
        }
        var reader = payments
        #expect(reader.mayRead(entry(submittedBy: "payments")))
        #expect(!reader.mayRead(entry(submittedBy: "other")))
        #expect(!reader.mayRead(entry(submittedBy: nil)), "transfers from before clients were named belong to no one")
        reader.read = .all
        #expect(reader.mayRead(entry(submittedBy: nil)))
        reader.read = .none
        #expect(!reader.mayRead(entry(submittedBy: "payments")))
    }

    @Test func registriesRefuseInlineTokensDuplicatesAndEmptyCredentials() {
        #expect(throws: ConfigurationError.self) {
            try ClientRegistry([ClientConfiguration(name: "a", credential: TokenSource(token: "an-inline-token-0123456789"))])
        }
        #expect(throws: ConfigurationError.self) {
            try ClientRegistry([ClientConfiguration(name: "a", credential: TokenSource())])
        }
        #expect(throws: ConfigurationError.self) { try ClientRegistry([payments, payments]) }
        var twin = payments
        twin.name = "twin"
        #expect(throws: ConfigurationError.self, "one token for two clients") { try ClientRegistry([payments, twin]) }
        let alice = ClientConfiguration(name: "alice", credential: TokenSource(), certificateCommonName: "ops")
        let bob = ClientConfiguration(name: "bob", credential: TokenSource(), certificateCommonName: "ops")
        #expect(throws: ConfigurationError.self, "one certificate name for two clients") { try ClientRegistry([alice, bob]) }
        #expect(throws: ConfigurationError.self) { try ClientRegistry([]) }
        #expect(throws: ConfigurationError.self) { try ClientRegistry([payments]).validate(participants: ["bank-a"]) }
    }
}
