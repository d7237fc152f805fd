import ArgumentParser
import SignedLog

struct AuditVerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Prove the log untouched with nothing but the public key.",
        discussion: """
            Checks every segment header, frame CRC-32C, LSN, chain hash, seal number and Ed25519 \
            seal signature and Merkle root from the first record to the last seal. Exits 0 with a \
            summary, or 1 naming the first bad segment, byte offset and reason \
            (protocol/recovery-log.md, "Verifying", states every rule).
            """
    )

    @Option(name: .long, help: "The log: a directory (settled's, or a copy), or postgres://…#coordinator-id for a log in PostgreSQL.")
    var log: String

    @Option(name: .long, help: KeyFiles.help)
    var publicKey: [String] = []

    @Flag(name: .long, help: "Accept records after the last seal, as a live log may have; they are reported, not trusted.")
    var allowUnsealedTail = false

    func run() throws {
        var auditor = LogAuditor(directory: log, keys: try KeyFiles.required(publicKey))
        auditor.allowsUnsealedTail = allowUnsealedTail
        let progressBar = standardOutputIsTerminal ? ProgressBar(label: "verifying") : nil
        let summary: AuditSummary
        do {
            summary = try auditor.verify { done, total in progressBar?.update(done: done, total: total) }
            progressBar?.finish()
        } catch let error as SignedLogError {
            progressBar?.finish()
            printError("settle audit verify: FAILED: \(error)")
            throw ExitCode(1)
        }
        print("log \((try? LogLocation(log))?.description ?? log): verified")
        for (index, epoch) in summary.keyEpochs.enumerated() {
            print("  \(index == 0 ? "key id       " : "             ") \(epoch.keyID) from LSN \(epoch.firstLSN)")
        }
        print("  segments      \(summary.segmentCount) (\(summary.byteCount) bytes sealed)")
        print("  records       \(summary.recordCount) (\(summary.checkpointCount) checkpoints)")
        print("  seals         \(summary.sealCount)")
        if let first = summary.firstLSN, let last = summary.lastLSN {
            print("  LSNs          \(first) … \(last)")
        } else {
            print("  LSNs          none (empty log)")
        }
        if let first = summary.firstTimeNanoseconds, let last = summary.lastTimeNanoseconds {
            print("  time range    \(Timestamp.iso8601(nanoseconds: first)) … \(Timestamp.iso8601(nanoseconds: last))")
        }
        if let seal = summary.lastSeal, let root = seal.treeRoot {
            print("  tree head     \(seal.lastLSN) records, root \(root) (seal \(seal.number))")
        } else if summary.lastSeal != nil {
            print("  tree head     none yet (version 1 log: the next append by settled adds the Merkle tree)")
        }
        if summary.unsealedTailByteCount > 0 {
            print("  unsealed tail \(summary.unsealedTailByteCount) bytes after the last seal (not trusted)")
        }
        if !summary.tornTailFiles.isEmpty {
            print(
                "  torn tails    \(summary.tornTailFiles.count) moved aside by recovery (outside the chain): \(summary.tornTailFiles.joined(separator: ", "))"
            )
        }
    }
}
