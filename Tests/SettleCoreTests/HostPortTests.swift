import SettleCore
import Testing

@Suite("host:port")
struct HostPortTests {
    @Test func theLastColonSeparatesThePort() throws {
        let loopback = try HostPort(parsing: "127.0.0.1:7100")
        #expect(loopback.host == "127.0.0.1" && loopback.port == 7100)
        let address = try HostPort(parsing: "bank-b.internal:7001")
        #expect(address.host == "bank-b.internal" && address.port == 7001)
        let ipv6 = try HostPort(parsing: "::1:0")
        #expect(ipv6.host == "::1" && ipv6.port == 0)
    }

    @Test(arguments: ["7100", ":7100", "host:", "host:port", "host:65536", "host:-1", ""])
    func malformedEndpointsAreRefusedByName(_ text: String) {
        #expect {
            try HostPort(parsing: text)
        } throws: { error in
            "\(error)" == "'\(text)' is not host:port"
        }
    }

    @Test func aListIsCommaSeparatedAndEveryPartMustBeHostPort() throws {
        #expect(try HostPort.list(parsing: "a:1,b:2").map(\.port) == [1, 2])
        #expect(try HostPort.list(parsing: "a:1").map(\.host) == ["a"])
        #expect(throws: HostPort.Invalid.self) { try HostPort.list(parsing: "a:1,") }
        #expect(throws: HostPort.Invalid.self) { try HostPort.list(parsing: "") }
    }

    @Test(arguments: ["localhost", "127.0.0.1", "127.1.2.3", "127.255.255.254", "::1", "[::1]"])
    func loopbackHostsAreLoopback(_ host: String) throws {
        #expect(HostPort.isLoopback(host: host))
        #expect(try HostPort(parsing: "\(host):7001").isLoopback)
    }

    /// Plaintext (tokens, payloads) is allowed only to loopback: a name that merely starts like a
    /// loopback address resolves wherever its owner wants.
    @Test(arguments: [
        "127.evil.example", "127.0.0.1.evil.example", "127.0.0", "127.1", "127.0.0.256", "127.+0.0.1", "128.0.0.1",
        "0.0.0.0", "::2", "[::1]x", "localhost.evil.example", "", "127.0.0.01x",
    ])
    func hostsThatOnlyLookLikeLoopbackAreNot(_ host: String) {
        #expect(!HostPort.isLoopback(host: host))
    }
}
