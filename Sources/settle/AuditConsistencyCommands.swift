import ArgumentParser
import SettleAudit
import SignedLog

struct AuditConsistencyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "consistency",
        abstract: "Prove the log still extends a tree head kept earlier.",
        discussion: """
            Reads the log, checks that it still holds the tree OLD_HEAD signed and writes the \
            RFC 9162 consistency proof from OLD_HEAD to NEW_HEAD (or to the log's latest head). \
            Exits 1 naming truncation or rewriting when the log no longer extends OLD_HEAD.
            """
    )

    @Option(help: "The log: a directory (settled's, or a copy), or postgres://…#coordinator-id for a log in PostgreSQL.")
    var log: String

    @Option(name: .long, help: KeyFiles.help)
    var publicKey: [String] = []

    @Option(help: "The proof file to write; standard output when omitted.")
    var out: String?

    @Argument(help: "The older head, as `settle audit head` wrote it.")
    var oldHead: String

    @Argument(help: "The newer head; the log's latest when omitted.")
    var newHead: String?

    func run() throws {
        let keys = try KeyFiles.required(publicKey)
        try ProofFiles.failing(as: "settle audit consistency") {
            let old = try ProofFiles.read(TreeHead.self, from: oldHead, what: "tree head")
            let new = try newHead.map { try ProofFiles.read(TreeHead.self, from: $0, what: "tree head") }
            let proof = try ConsistencyProof.make(from: old, to: new, directory: log, keys: keys)
            try proof.verify(with: keys)
            try ProofFiles.write(proof, to: out)
        }
    }
}

struct AuditCheckConsistencyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-consistency",
        abstract: "Verify a consistency proof with the log's public key and nothing else."
    )

    @Option(name: .long, help: KeyFiles.help)
    var publicKey: [String] = []

    @Argument(help: "The proof file, as `settle audit consistency` wrote it.")
    var proof: String

    func run() throws {
        let keys = try KeyFiles.required(publicKey)
        try ProofFiles.failing(as: "settle audit check-consistency") {
            let parsed = try ProofFiles.read(ConsistencyProof.self, from: proof, what: "consistency proof")
            try parsed.verify(with: keys)
            print(
                "proof \(proof): verified, the log of \(parsed.new.treeSize) records (seal \(parsed.new.sealNumber)) "
                    + "extends the log of \(parsed.old.treeSize) records (seal \(parsed.old.sealNumber))"
            )
        }
    }
}
