/// An endpoint given as host:port, as every Settle configuration and command line writes it. The
/// port is the part after the last colon, so the host may itself contain colons.
public struct HostPort: Sendable, Hashable {
    public let host: String
    public let port: Int

    public init(parsing text: String) throws(Invalid) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
            (0...65535).contains(port), colon > text.startIndex
        else { throw Invalid(description: "'\(text)' is not host:port") }
        host = String(text[..<colon])
        self.port = port
    }

    /// `host:port[,host:port…]`: an active coordinator and its standbys, or several coordinator ids.
    public static func list(parsing text: String) throws(Invalid) -> [HostPort] {
        let addresses = try text.split(separator: ",", omittingEmptySubsequences: false).map { part throws(Invalid) in
            try HostPort(parsing: String(part))
        }
        guard !addresses.isEmpty else { throw Invalid(description: "no address in '\(text)'") }
        return addresses
    }

    /// Plaintext to such a host stays on this machine.
    public var isLoopback: Bool { host == "localhost" || host.hasPrefix("127.") || host == "::1" || host == "[::1]" }

    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }
}
