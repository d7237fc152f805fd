import ArgumentParser
import SettleAudit
import SignedLog

struct AuditHeadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "head",
        abstract: "Print the log's latest signed tree head, as JSON, for an auditor to keep.",
        discussion: """
            Verifies the whole log first. Keep the head: `settle audit consistency` later proves \
            the log still extends it, which catches truncation or rewriting after it \
            (protocol/receipts.md).
            """
    )

    @Option(help: "The log: a directory (settled's, or a copy), or postgres://…#coordinator-id for a log in PostgreSQL.")
    var log: String

    @Option(name: .long, help: KeyFiles.help)
    var publicKey: [String] = []

    @Option(help: "Write the head to this file instead of standard output.")
    var out: String?

    func run() throws {
        let keys = try KeyFiles.required(publicKey)
        try ProofFiles.failing(as: "settle audit head") {
            let (tree, _) = try LogTree.read(directory: log, keys: keys)
            guard let head = tree.latestHead.flatMap(TreeHead.init(seal:)) else {
                throw AuditError("the log has no version 2 seal yet, so no signed tree head")
            }
            try ProofFiles.write(head, to: out)
        }
    }
}
