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

    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }
}
