import Foundation
import Logging
import SignedLog

#if canImport(Glibc)
    import Glibc
#endif

/// Publishes the log's latest signed tree head to a file every interval, for an external witness
/// to collect (`treeHeadFile`). A witness that keeps every head it sees, and later asks for
/// consistency proofs between them (`settle audit consistency`), detects a log rewritten or cut
/// back after any head it kept — even by someone holding the signing key.
///
/// The file is replaced atomically (written beside it, synced, renamed), so a reader sees a
/// whole head or the previous one; it is canonical JSON, as `settle audit head` writes it.
struct TreeHeadPublisher: Sendable {
    let log: SignedLog
    let path: String
    let interval: Duration
    let logger: Logger

    func run() async {
        var lastPublished: UInt64?
        while !Task.isCancelled {
            if let head = log.latestSeal.flatMap(TreeHead.init(seal:)), head.sealNumber != lastPublished {
                do {
                    try await Self.replace(path, with: try CanonicalJSON.encode(head))
                    lastPublished = head.sealNumber
                } catch {
                    logger.warning("cannot publish the signed tree head", metadata: ["file": "\(path)", "error": "\(error)"])
                }
            }
            try? await Task.sleep(for: interval)
        }
    }

    /// Blocking file calls on a dispatch thread, never on a cooperative one.
    private static func replace(_ path: String, with bytes: [UInt8]) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try replaceBlocking(path, with: bytes) })
            }
        }
    }

    private static func replaceBlocking(_ path: String, with bytes: [UInt8]) throws {
        let temporary = path + ".publishing"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw FileSystemError("open", path: temporary) }
        defer { close(descriptor) }
        let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        guard written == bytes.count else { throw FileSystemError("write", path: temporary) }
        guard fsync(descriptor) == 0 else { throw FileSystemError("fsync", path: temporary) }
        guard rename(temporary, path) == 0 else { throw FileSystemError("rename", path: path) }
    }
}
