import Logging
import SignedLog

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
                    try await FileReplacement.replace(path, with: try CanonicalJSON.encode(head))
                    lastPublished = head.sealNumber
                } catch {
                    logger.warning("cannot publish the signed tree head", metadata: ["file": "\(path)", "error": "\(error)"])
                }
            }
            try? await Task.sleep(for: interval)
        }
    }
}
