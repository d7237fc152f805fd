import Foundation
import LaunchedProcesses
import SettleAuth
import SettleParticipant
import SettleTestSupport
import SignedLog
import Testing

/// Secure by default: plaintext only on loopback unless asked for, and no secret in a file that
/// group or others can read.
@Suite("secure defaults", .timeLimit(.minutes(3)))
struct SecureDefaultsTests {
    /// A settled configuration with one participant whose token is inline (so the file holds a secret).
    func writeSettledConfiguration(_ directory: TemporaryDirectory, listen: String, extra: String = "", mode: Int) throws -> String {
        let key = try SigningKey.generate()
        try PrivateKeyFile.create(directory.subpath("signing-key.pem"), bytes: key.pkcs8PEMBytes(), mode: 0o600)
        let path = directory.subpath("settled.json")
        let text = """
            {"coordinatorID": "secure", "listen": "\(listen)", "metricsListen": "127.0.0.1:0", "consoleListen": "127.0.0.1:0",
             "logDirectory": "\(directory.subpath("log"))", "signingKey": "\(directory.subpath("signing-key.pem"))",
             "clients": [{"name": "tests", "tokenSHA256": "\(TokenSource.hexDigest(ofToken: clientToken))"}],
             "participants": [{"name": "bank-a", "address": "127.0.0.1:1", "token": "bank-a-token-0123456789"}]\(extra)}
            """
        #expect(FileManager.default.createFile(atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: mode]))
        return path
    }

    @Test func settledRefusesPlaintextOffLoopbackUnlessAllowed() throws {
        let directory = try TemporaryDirectory()
        let refused = try run("settled", ["--config", try writeSettledConfiguration(directory, listen: "0.0.0.0:0", mode: 0o600)])
        #expect(refused.status != 0)
        #expect(refused.errorOutput.contains("is not a loopback address and has no tls"), "\(refused.errorOutput)")

        let allowedDirectory = try TemporaryDirectory()
        let allowed = try LaunchedProcess(
            "settled",
            ["--config", try writeSettledConfiguration(allowedDirectory, listen: "0.0.0.0:0", extra: #", "allowPlaintext": true"#, mode: 0o600)],
            readyPrefix: "settled ready"
        )
        allowed.stop()
    }

    @Test func settledRefusesAPlaintextLinkToAParticipantOffLoopback() throws {
        let directory = try TemporaryDirectory()
        let path = try writeSettledConfiguration(directory, listen: "127.0.0.1:0", mode: 0o600)
        let remote = try String(contentsOfFile: path, encoding: .utf8).replacingOccurrences(of: "127.0.0.1:1", with: "10.0.0.5:7001")
        try remote.write(toFile: path, atomically: false, encoding: .utf8)
        let refused = try run("settled", ["--config", path])
        #expect(refused.status != 0)
        #expect(
            refused.errorOutput.contains("participant bank-a at 10.0.0.5:7001 is not a loopback address and has no tls"), "\(refused.errorOutput)")
    }

    @Test func settledRefusesAConfigurationWithSecretsThatOthersCanRead() throws {
        let directory = try TemporaryDirectory()
        let refused = try run("settled", ["--config", try writeSettledConfiguration(directory, listen: "127.0.0.1:0", mode: 0o644)])
        #expect(refused.status != 0)
        #expect(refused.errorOutput.contains("group or others can read it"), "\(refused.errorOutput)")
        #expect(refused.errorOutput.contains("chmod 600"), "says what to do")
        #expect(!refused.errorOutput.contains("bank-a-token-0123456789"), "the secret is never echoed")
    }

    @Test func settledRefusesTheOldClientTokensAndInlineClientTokens() throws {
        let directory = try TemporaryDirectory()
        let path = try writeSettledConfiguration(directory, listen: "127.0.0.1:0", mode: 0o600)
        let original = try String(contentsOfFile: path, encoding: .utf8)
        let legacy = original.replacingOccurrences(of: #""clients": ["#, with: #""clientTokens": ["a-client-token-0123456789"], "x": ["#)
        try legacy.write(toFile: path, atomically: false, encoding: .utf8)
        let old = try run("settled", ["--config", path])
        #expect(old.status != 0 && old.errorOutput.contains("clientTokens is no longer accepted"), "\(old.errorOutput)")

        let inline = original.replacingOccurrences(
            of: #""tokenSHA256": "\#(TokenSource.hexDigest(ofToken: clientToken))""#, with: #""token": "\#(clientToken)""#)
        try inline.write(toFile: path, atomically: false, encoding: .utf8)
        let refused = try run("settled", ["--config", path])
        #expect(refused.status != 0 && refused.errorOutput.contains("an inline token is not accepted here"), "\(refused.errorOutput)")
    }

    @Test func aParticipantRefusesPlaintextOffLoopbackAndReadableInlineTokens() async throws {
        let database = try await ScratchDatabase.create()
        let directory = try TemporaryDirectory()
        let key = try SigningKey.generate()
        let publicKey = directory.subpath("coordinator.pub.pem")
        try writeBytes(try key.verifyingKey.pemBytes(), to: publicKey)
        let coordinators = directory.subpath("coordinators.json")
        try CoordinatorsFile.write(coordinators, coordinators: [(id: "secure", token: "bank-a-token-0123456789", publicKeyFile: publicKey)])
        let bank = ["--name", "bank-a", "--database-url", database.url, "--coordinators", coordinators]

        let plaintext = try run("example-bank", bank + ["--listen", "0.0.0.0:0"])
        #expect(plaintext.status != 0)
        #expect(plaintext.errorOutput.contains("is not a loopback address and no TLS is configured"), "\(plaintext.errorOutput)")
        let allowed = try LaunchedProcess("example-bank", bank + ["--listen", "0.0.0.0:0", "--allow-plaintext"], readyPrefix: "listening on ")
        allowed.stop()

        let inline = directory.subpath("inline.json")
        let text = #"[{"id": "secure", "token": "bank-a-token-0123456789", "publicKeys": ["\#(publicKey)"]}]"#
        #expect(FileManager.default.createFile(atPath: inline, contents: Data(text.utf8), attributes: [.posixPermissions: 0o644]))
        let readable = try run("example-bank", ["--name", "bank-a", "--database-url", database.url, "--coordinators", inline])
        #expect(readable.status != 0)
        #expect(readable.errorOutput.contains("group or others can read it"), "\(readable.errorOutput)")
        await database.drop()
    }
}
