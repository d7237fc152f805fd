import Foundation
import GRPCCore
import SettleClient
import SettleCoordinator
import SettleProtocol
import SettleTestSupport
import Testing

/// TLS on both of settled's sides, with a throwaway authority: clients reach the API only over
/// TLS with a certificate the API trusts, and settled reaches participants only when it can verify
/// theirs — each direction checked by a refusal as well as by a transfer that commits.
@Suite("TLS: the client API and the participants", .timeLimit(.minutes(5)))
struct TLSTests {
    private static func files(_ certificates: TestCertificates) -> [String: String] {
        ["certificateAuthority": certificates.authority, "certificateChain": certificates.client, "privateKey": certificates.clientKey]
    }

    @Test func mutualTLSEverywhereCommitsAndRefusesClientsWithoutTheRightCertificate() async throws {
        let directory = try TemporaryDirectory()
        let certificates = try TestCertificates.issue(in: directory.path)
        let bankTLS = ["--tls-certificate", certificates.server, "--tls-key", certificates.serverKey, "--tls-client-ca", certificates.authority]
        try await withDeployment(
            bankArguments: [bankTLS, bankTLS],
            configuration: [
                "tls": [
                    "certificateChain": certificates.server, "privateKey": certificates.serverKey,
                    "clientCertificateAuthority": certificates.authority,
                ]
            ],
            participantTLS: Self.files(certificates)
        ) { deployment throws in
            let trusted = SettleClient.TLS(
                certificateAuthority: certificates.authority, certificateChain: certificates.client, privateKey: certificates.clientKey
            )
            let transfer = try await deployment.client(tls: trusted) {
                try await $0.submit(
                    id: "over-tls", branches: Deployment.branches(amount: 75, fromA: true, account: 2), wait: true, timeout: .seconds(30)
                )
            }
            #expect(transfer.state == .committed, "\(transfer.reason)")
            #expect(try await deployment.postingCounts("over-tls") == [1, 1])

            // Each refusal is the handshake failing (UNAVAILABLE, no call made); the trusted client
            // still getting its answer afterwards shows it was not settled going away.
            let plaintext = await #expect(throws: RPCError.self, "a plaintext client") {
                try await deployment.client { try await $0.get(id: "over-tls") }
            }
            let withoutCertificate = await #expect(throws: RPCError.self, "TLS without a client certificate") {
                try await deployment.client(tls: .init(certificateAuthority: certificates.authority)) { try await $0.get(id: "over-tls") }
            }
            let untrusting = await #expect(throws: RPCError.self, "a client that does not trust settled's authority") {
                try await deployment.client(tls: .init(certificateChain: certificates.client, privateKey: certificates.clientKey)) {
                    try await $0.get(id: "over-tls")
                }
            }
            #expect([plaintext?.code, withoutCertificate?.code, untrusting?.code] == [.unavailable, .unavailable, .unavailable])
            #expect(try await deployment.client(tls: trusted) { try await $0.get(id: "over-tls") }.state == .committed)

            // The certificate alone names its client; with the token of another client it is refused.
            let byCertificate = try await deployment.client(tls: trusted, token: "") { try await $0.get(id: "over-tls") }
            #expect(byCertificate.submittedBy == "tests")
            let mismatched = await #expect(throws: RPCError.self, "a token of another client beside the certificate") {
                try await deployment.client(tls: trusted, token: paymentsToken) { try await $0.get(id: "over-tls") }
            }
            #expect(mismatched?.code == .unauthenticated)
            #expect(mismatched?.message.contains("name different callers") == true)
            try await expectEveryInvariant(deployment, tls: trusted)
        }
    }

    /// settled trusts only the system's roots, which do not include the test authority: it can
    /// never prepare at a participant, so the transfer aborts at the deadline and nothing moves.
    @Test func aParticipantWhoseCertificateCannotBeVerifiedIsNeverPrepared() async throws {
        let directory = try TemporaryDirectory()
        let certificates = try TestCertificates.issue(in: directory.path)
        let bankTLS = ["--tls-certificate", certificates.server, "--tls-key", certificates.serverKey]
        try await withDeployment(bankArguments: [bankTLS, bankTLS], participantTLS: true) { deployment throws in
            _ = try await deployment.client {
                try await $0.submit(
                    id: "untrusted", branches: Deployment.branches(amount: 75, fromA: true, account: 3),
                    prepareTimeout: .milliseconds(800)
                )
            }
            // Decided ABORT at the deadline; it stays aborting, since even its Rollbacks cannot get through.
            try await waitUntil { try await deployment.client { try await $0.get(id: "untrusted") }.state == .aborting }
            #expect(try await deployment.postingCounts("untrusted") == [0, 0])
            #expect(try await deployment.preparedUnderPrefix().isEmpty)
            #expect(try await deployment.totalBalance() == deployment.expectedTotal)
            #expect(try await deployment.metrics().contains(#"settle_participant_retries_total{operation="rollback""#))
            try await expectEveryInvariant(deployment)
        }
    }

    enum BadParticipantTLS: String, CaseIterable, Sendable {
        case expired, notYetValid, otherAddress, coordinatorWithoutClientCertificate
    }

    /// A participant link settled must refuse, or that must refuse settled: an expired or not yet
    /// valid certificate, one for another address, and a participant requiring mutual TLS from a
    /// coordinator that presents no certificate. Nothing is ever prepared; the transfer aborts at
    /// its deadline and no money moves.
    @Test(arguments: BadParticipantTLS.allCases)
    func aParticipantLinkThatFailsVerificationIsNeverPrepared(_ bad: BadParticipantTLS) async throws {
        let directory = try TemporaryDirectory()
        let certificates = try TestCertificates.issue(in: directory.path)
        let server: (certificate: String, key: String)
        switch bad {
        case .expired:
            server = try certificates.issueServer(
                named: "expired", in: directory.path, from: "20200101000000Z", until: "20200201000000Z", subjectAltName: "IP:127.0.0.1"
            )
        case .notYetValid:
            server = try certificates.issueServer(
                named: "future", in: directory.path, from: "20990101000000Z", until: "20990201000000Z", subjectAltName: "IP:127.0.0.1"
            )
        case .otherAddress:
            server = try certificates.issueServer(
                named: "elsewhere", in: directory.path, from: "20200101000000Z", until: "20990101000000Z",
                subjectAltName: "IP:10.9.9.9,DNS:elsewhere.invalid"
            )
        case .coordinatorWithoutClientCertificate:
            server = (certificates.server, certificates.serverKey)
        }
        var bankTLS = ["--tls-certificate", server.certificate, "--tls-key", server.key]
        var participantTLS: Any = ["certificateAuthority": certificates.authority]
        if bad == .coordinatorWithoutClientCertificate {
            bankTLS += ["--tls-client-ca", certificates.authority]
        } else {
            participantTLS = Self.files(certificates)
        }
        try await withDeployment(bankArguments: [bankTLS, bankTLS], participantTLS: participantTLS) { deployment throws in
            _ = try await deployment.client {
                try await $0.submit(
                    id: "refused-link", branches: Deployment.branches(amount: 75, fromA: true, account: 3), prepareTimeout: .milliseconds(800))
            }
            try await waitUntil(timeout: .seconds(30), "decided ABORT at the deadline (its Rollbacks cannot get through either)") {
                try await deployment.client { try await $0.get(id: "refused-link") }.state == .aborting
            }
            #expect(try await deployment.postingCounts("refused-link") == [0, 0], "\(bad)")
            #expect(try await deployment.metrics().contains(#"settle_participant_reachable{participant="bank-a"} 0"#), "\(bad)")
            try await expectEveryInvariant(deployment)
        }
    }

    @Test func settledRefusesAnAPIKeyOthersCanRead() async throws {
        let directory = try TemporaryDirectory()
        let certificates = try TestCertificates.issue(in: directory.path)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: certificates.serverKey)
        try await withDeployment(
            configuration: ["tls": ["certificateChain": certificates.server, "privateKey": certificates.serverKey]], startsSettled: false
        ) { deployment throws in
            #expect {
                try deployment.startSettled()
            } throws: { error in
                "\(error)".contains("chmod 600 \(certificates.serverKey)")
            }
        }
    }

    @Test func participantTLSConfigurationReadsEveryForm() throws {
        func decode(_ json: String) throws -> ParticipantTLSConfiguration {
            try JSONDecoder().decode(ParticipantTLSConfiguration.self, from: Data(json.utf8))
        }
        #expect(try decode("false") == .plaintext)
        #expect(try decode("true") == .systemTrustRoots)
        #expect(try decode(#"{"certificateAuthority":"ca.pem"}"#) == .files(.init(certificateAuthority: "ca.pem")))
        #expect(
            try decode(#"{"certificateChain":"c.pem","privateKey":"c.key"}"#) == .files(.init(certificateChain: "c.pem", privateKey: "c.key"))
        )
        #expect(throws: DecodingError.self, "a certificate without its key") { try decode(#"{"certificateChain":"c.pem"}"#) }
        #expect(throws: DecodingError.self) { try decode(#""yes""#) }
    }
}
