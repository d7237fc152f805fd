#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A configuration file's bytes and its mode, read from one descriptor, so a file that holds
/// secrets can be refused when group or others can read it (as the log's key file is).
public struct ConfigurationFile: Sendable {
    public let path: String
    public let bytes: [UInt8]
    public let mode: UInt32

    /// Configurations are small; anything larger is refused rather than read whole.
    public static let bytesMax = 4 << 20

    public init(path: String) throws {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw CredentialError("cannot read \(path): \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw CredentialError("cannot stat \(path): \(String(cString: strerror(errno)))") }
        guard status.st_size <= Self.bytesMax else { throw CredentialError("\(path) is larger than \(Self.bytesMax) bytes") }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { throw CredentialError("cannot read \(path): \(String(cString: strerror(errno)))") }
            if count == 0 { break }
            bytes += chunk[..<count]
            guard bytes.count <= Self.bytesMax else { throw CredentialError("\(path) is larger than \(Self.bytesMax) bytes") }
        }
        self.path = path
        self.bytes = bytes
        self.mode = UInt32(status.st_mode & 0o777)
    }

    public func requireOwnerOnly(because why: String) throws {
        guard mode & 0o077 == 0 else {
            throw CredentialError(
                "\(path) has mode \(String(mode, radix: 8)), so group or others can read it, and \(why); run: chmod 600 \(path)"
            )
        }
    }
}
