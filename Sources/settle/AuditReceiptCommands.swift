import ArgumentParser
import SettleAudit
import SettleCore
import SignedLog

struct AuditReceiptCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "receipt",
        abstract: "Write a self-contained receipt of one transfer's sealed records.",
        discussion: """
            The receipt holds the transfer's records, their Merkle inclusion proofs, the latest \
            signed tree head and the public key; `settle audit check-receipt` (or any \
            implementation of protocol/receipts.md) verifies it with the public key alone.
            """
    )

    @Option(help: "The log: a directory (settled's, or a copy), or postgres://…#coordinator-id for a log in PostgreSQL.")
    var log: String

    @Option(name: .long, help: KeyFiles.help)
    var publicKey: [String] = []

    @Option(help: "The receipt file to write; standard output when omitted.")
    var out: String?

    @Argument(help: "The transfer id.")
    var transfer: String

    func run() throws {
        let keys = try KeyFiles.required(publicKey)
        try ProofFiles.failing(as: "settle audit receipt") {
            try ProofFiles.write(try Receipt.make(transfer: transfer, directory: log, keys: keys), to: out)
        }
    }
}

struct AuditCheckReceiptCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-receipt",
        abstract: "Verify a receipt with the log's public key and nothing else.",
        discussion: "Exits 0 listing the records it proves, or 1 with the first reason it proves nothing."
    )

    @Option(help: "The PEM public key the receipt must be signed with.")
    var publicKey: String

    @Argument(help: "The receipt file.")
    var receipt: String

    func run() throws {
        let key = try VerifyingKey(pemFile: publicKey)
        try ProofFiles.failing(as: "settle audit check-receipt") {
            let parsed = try ProofFiles.read(Receipt.self, from: receipt, what: "receipt")
            let records = try parsed.verify(with: key)
            let head = parsed.treeHead
            print("receipt \(receipt): verified, transfer \(TerminalText.escaped(parsed.transfer))")
            print(
                "  tree head  \(head.treeSize) records, root \(head.rootHash) (seal \(head.sealNumber), \(Timestamp.iso8601(nanoseconds: head.sealedAtNanoseconds)))"
            )
            for record in records {
                print(
                    "  LSN \(record.lsn)  \(Timestamp.iso8601(nanoseconds: record.appendedAtNanoseconds))  "
                        + "\(SettleCommand.typeName(record.type))  \(PayloadText.render(record.payload))"
                )
            }
        }
    }
}
