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
    public var isLoopback: Bool { Self.isLoopback(host: host) }

    /// `localhost`, `::1`, or an IPv4 address in 127.0.0.0/8 written as four decimal octets. A
    /// name that only starts like one ("127.example.net") resolves wherever its owner wants.
    public static func isLoopback(host: String) -> Bool {
        if host == "localhost" || host == "::1" || host == "[::1]" { return true }
        let octets = host.split(separator: ".", omittingEmptySubsequences: false)
        guard octets.count == 4, octets[0] == "127" else { return false }
        return octets.allSatisfy { octet in
            (1...3).contains(octet.utf8.count) && octet.utf8.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
                && Int(octet).map { $0 <= 255 } == true
        }
    }

    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }
}
