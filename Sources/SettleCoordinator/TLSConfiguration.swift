import Foundation
import SettleProtocol

/// TLS for settled's client API; the key is refused if group or others can read it, like the
/// signing key.
public typealias APITLSConfiguration = ServerTLS

/// How settled connects to one participant: `false` or absent for plaintext, `true` for TLS
/// verified by the system's trust roots, or an object naming the authority to trust and, for
/// mutual TLS, settled's own client certificate and key.
public enum ParticipantTLSConfiguration: Codable, Sendable, Hashable {
    case plaintext
    case systemTrustRoots
    case files(ClientTLS)

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let enabled = try? container.decode(Bool.self) {
            self = enabled ? .systemTrustRoots : .plaintext
            return
        }
        let files = try container.decode(ClientTLS.self)
        guard (files.certificateChain == nil) == (files.privateKey == nil) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "tls: certificateChain and privateKey go together (mutual TLS) or not at all"
            )
        }
        self = .files(files)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .plaintext: try container.encode(false)
        case .systemTrustRoots: try container.encode(true)
        case .files(let files): try container.encode(files)
        }
    }
}

extension ParticipantTLSConfiguration {
    /// Certificate files named here, for start-up checks.
    var certificateFiles: [String] {
        guard case .files(let files) = self else { return [] }
        return [files.certificateAuthority, files.certificateChain].compactMap { $0 }
    }
}
