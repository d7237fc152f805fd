import Foundation
import SettleAuth
import SettleTestSupport
import Testing

@Suite struct TokenSourceTests {
    let token = "a-client-token-0123456789"

    @Test func everySourceYieldsTheSameDigest() throws {
        let expected = TokenSource.digest(ofToken: token)
        let hex = expected.map { String(format: "%02x", $0) }.joined()
        #expect(try TokenSource(tokenSHA256: hex).digest(for: "c", allowingInline: false) == expected)
        #expect(try TokenSource(tokenSHA256: hex.uppercased()).digest(for: "c", allowingInline: false) == expected)
        let directory = try TemporaryDirectory()
        let file = directory.path + "/token"
        #expect(FileManager.default.createFile(atPath: file, contents: Data((token + "\n").utf8), attributes: [.posixPermissions: 0o600]))
        #expect(try TokenSource(tokenFile: file).digest(for: "c", allowingInline: false) == expected)
        setenv("SETTLE_AUTH_TEST_TOKEN", token, 1)
        #expect(try TokenSource(tokenEnvironment: "SETTLE_AUTH_TEST_TOKEN").digest(for: "c", allowingInline: false) == expected)
    }

    @Test func inlineTokensReadableFilesShortTokensAndTwoSourcesAreRefused() throws {
        #expect(throws: CredentialError.self) { try TokenSource(token: token).digest(for: "c", allowingInline: false) }
        #expect(try TokenSource(token: token).digest(for: "c", allowingInline: true) == TokenSource.digest(ofToken: token))
        #expect(throws: CredentialError.self) { try TokenSource(token: "short").secret(for: "c") }
        #expect(throws: CredentialError.self) { try TokenSource(token: token, tokenEnvironment: "X").secret(for: "c") }
        #expect(throws: CredentialError.self) { try TokenSource(tokenSHA256: "abc").digest(for: "c", allowingInline: false) }
        #expect(throws: CredentialError.self) { try TokenSource(tokenSHA256: String(repeating: "0", count: 64)).secret(for: "c") }
        let directory = try TemporaryDirectory()
        let file = directory.path + "/token"
        #expect(FileManager.default.createFile(atPath: file, contents: Data(token.utf8), attributes: [.posixPermissions: 0o644]))
        #expect(throws: (any Error).self) { try TokenSource(tokenFile: file).secret(for: "c") }
    }

    @Test func theCredentialTableNamesTheCallerOfEachToken() {
        var table = CredentialTable()
        table.addToken(digest: TokenSource.digest(ofToken: token), name: "payments")
        table.addToken(digest: TokenSource.digest(ofToken: token + "x"), name: "ops")
        #expect(table.name(forToken: token) == "payments")
        #expect(table.name(forToken: token + "x") == "ops")
        #expect(table.name(forToken: String(token.dropLast())) == nil)
        #expect(table.name(forToken: "") == nil)
    }
}
