import Foundation
@testable import SettleCoordinator
import SettleCore
import Testing

/// One credit branch, as a client might send it alone.
func lone(credit participant: String) -> TransferSpec {
    TransferSpec(
        id: "lone", branches: [TransferSpec.Branch(participant: participant, action: "credit", payload: Data(#"{"amount":1}"#.utf8))],
        policy: .init()
    )
}

/// The README's settled configuration is the one a newcomer copies: it must decode, with every
/// TLS form it shows.
@Suite("README configuration example")
struct ConfigurationExampleTests {
    @Test func theREADMEConfigurationDecodes() throws {
        let readme = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../README.md")
        let text = try String(contentsOf: readme, encoding: .utf8)
        let section = try #require(text.range(of: "## Running the coordinator"))
        let start = try #require(text.range(of: "```json\n", range: section.upperBound..<text.endIndex))
        let end = try #require(text.range(of: "```", range: start.upperBound..<text.endIndex))
        let configuration = try JSONDecoder().decode(CoordinatorConfiguration.self, from: Data(text[start.upperBound..<end.lowerBound].utf8))
        #expect(configuration.tls?.clientCertificateAuthority == "/etc/settle/clients-ca.pem")
        #expect(configuration.clients.map(\.name) == ["payments", "alice", "bob"])
        #expect(configuration.clients[0].refusal(toSubmit: lone(credit: "bank-a")) != nil, "payments cannot mint at bank-a")
        #expect(configuration.clients[0].refusal(toSubmit: lone(credit: "bank-b")) == nil)
        #expect(configuration.clients.map(\.operator) == [false, true, true])
        #expect(configuration.clients[1].certificateCommonName == "alice.ops")
        #expect(configuration.participants.map(\.credential.tokenFile) == ["/etc/settle/banks/bank-a.token", nil])
        #expect(
            configuration.participants.map(\.tls) == [
                .systemTrustRoots,
                .files(
                    .init(
                        certificateAuthority: "/etc/settle/banks-ca.pem", certificateChain: "/etc/settle/settled-client.pem",
                        privateKey: "/etc/settle/settled-client.key"
                    )),
            ])
    }
}
