import Foundation
import SettleAudit
import SettleTestSupport
import SignedLog
import Testing

/// Receipts and consistency proofs (protocol/receipts.md), checked by `settle`, in-process and by
/// an independent verifier in another language.
@Suite("settle audit receipt, head and consistency", .timeLimit(.minutes(5)))
struct ReceiptTests {
    let directory: TemporaryDirectory
    let keys: String
    let logPath: String
    var publicKeyPath: String { keys + "/signing-key.pub.pem" }

    init() throws {
        directory = try TemporaryDirectory()
        keys = directory.subpath("keys")
        logPath = directory.subpath("log")
    }

    /// ACCEPTED, COMMIT and END records of `transfers`, interleaved, each append its own seal so
    /// the log has many heads; `changing` rewrites one record's payload (a forger with the key).
    private func writeLog(
        at path: String, key: SigningKey, transfers: [String], changing changedLSN: UInt64? = nil
    ) async throws {
        let log = try await SignedLog.open(directory: path, signingKey: key)
        var lsn: UInt64 = 0
        for type in [0x0101, 0x0102, 0x0104] {
            for transfer in transfers {
                lsn += 1
                let amount = lsn == changedLSN ? 999_999 : 100
                let payload = #"{"amount":\#(amount),"transfer":"\#(transfer)"}"#
                _ = try await log.append(LogEntry(type: RecordType(rawValue: UInt16(type)), payload: Array(payload.utf8)))
            }
        }
        await log.close()
    }

    private func makeKey() throws -> SigningKey {
        let keygen = try run("settle", ["keygen", "--out", keys])
        #expect(keygen.status == 0, "\(keygen.errorOutput)")
        return try SigningKey(pemFile: keys + "/signing-key.pem")
    }

    private var pythonVerifier: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("tools/verify-receipt.py").path
    }

    @Test func aReceiptVerifiesWithSettleAndWithAnIndependentPythonVerifier() async throws {
        let key = try makeKey()
        try await writeLog(at: logPath, key: key, transfers: ["t-1", "t-2", "t-3"])
        let receiptPath = directory.subpath("t-2.receipt")
        let made = try run("settle", ["audit", "receipt", "t-2", "--log", logPath, "--public-key", publicKeyPath, "--out", receiptPath])
        #expect(made.status == 0, "\(made.errorOutput)")

        let checked = try run("settle", ["audit", "check-receipt", receiptPath, "--public-key", publicKeyPath])
        #expect(checked.status == 0, "\(checked.errorOutput)")
        let proven = checked.output.split(separator: "\n").filter { $0.contains("  LSN ") }
        #expect(proven.count == 3, "\(checked.output)")
        #expect(proven[0].contains("LSN 2 ") && proven[1].contains("LSN 5 ") && proven[2].contains("LSN 8 "), "\(checked.output)")
        #expect(checked.output.contains("9 records"), "the head covers the whole log: \(checked.output)")

        let python = try runExecutable(at: "/usr/bin/python3", [pythonVerifier, receiptPath, publicKeyPath])
        #expect(python.status == 0, "\(python.errorOutput)")
        #expect(
            python.output.split(separator: "\n").map { $0.split(separator: " ").prefix(4).joined(separator: " ") }
                == ["LSN 2 type 0x0101", "LSN 5 type 0x0102", "LSN 8 type 0x0104"], "\(python.output)")
    }

    @Test func aReceiptIsRefusedUnderAnotherKeyOrForAnUnknownTransfer() async throws {
        let key = try makeKey()
        try await writeLog(at: logPath, key: key, transfers: ["t-1"])
        let receiptPath = directory.subpath("t-1.receipt")
        #expect(try run("settle", ["audit", "receipt", "t-1", "--log", logPath, "--public-key", publicKeyPath, "--out", receiptPath]).status == 0)
        let other = directory.subpath("other")
        #expect(try run("settle", ["keygen", "--out", other]).status == 0)
        let refused = try run("settle", ["audit", "check-receipt", receiptPath, "--public-key", other + "/signing-key.pub.pem"])
        #expect(refused.status == 1)
        #expect(refused.errorOutput.contains("the receipt's public key is not the given key"), "\(refused.errorOutput)")
        let python = try runExecutable(at: "/usr/bin/python3", [pythonVerifier, receiptPath, other + "/signing-key.pub.pem"])
        #expect(python.status == 1, "\(python.output)")
        let unknown = try run("settle", ["audit", "receipt", "t-404", "--log", logPath, "--public-key", publicKeyPath])
        #expect(unknown.status == 1)
        #expect(unknown.errorOutput.contains("no sealed record of transfer t-404"), "\(unknown.errorOutput)")
    }

    /// Flipping a bit, swapping case, blanking, deleting any one byte or adding a trailing byte:
    /// both verifiers refuse every such receipt.
    @Test func everySingleByteChangeIsRefusedByBothVerifiers() async throws {
        let key = try makeKey()
        try await writeLog(at: logPath, key: key, transfers: ["t-1", "t-2"])
        let receipt = try Receipt.make(transfer: "t-1", directory: logPath, keys: LogKeys([key.verifyingKey]))
        let bytes = try CanonicalJSON.encode(receipt)
        let original = try CanonicalJSON.decode(Receipt.self, from: bytes, what: "receipt")
        #expect(try original.verify(with: key.verifyingKey).count == 3)

        var changed: [[UInt8]] = [bytes + [0x0A]]
        for index in bytes.indices {
            for flip: UInt8 in [0x01, 0x20] {
                var copy = bytes
                copy[index] ^= flip
                changed.append(copy)
            }
            var deleted = bytes
            deleted.remove(at: index)
            changed.append(deleted)
        }
        var acceptedBySettle: [Int] = []
        for (number, variant) in changed.enumerated() {
            if (try? CanonicalJSON.decode(Receipt.self, from: variant, what: "receipt").verify(with: key.verifyingKey)) != nil {
                acceptedBySettle.append(number)
            }
        }
        #expect(acceptedBySettle.isEmpty, "settle accepted changed receipts: \(acceptedBySettle.prefix(10))")

        let variantsPath = directory.subpath("variants.json")
        try writeBytes(Array(try JSONEncoder().encode([bytes] + changed)), to: variantsPath)
        let harness = """
            import importlib.util, json, sys
            spec = importlib.util.spec_from_file_location("verifier", sys.argv[1])
            verifier = importlib.util.module_from_spec(spec); spec.loader.exec_module(verifier)
            variants = [bytes(v) for v in json.load(open(sys.argv[2]))]
            pem = open(sys.argv[3], "rb").read()
            verifier.verify(variants[0], pem)
            accepted = []
            for number, variant in enumerate(variants[1:]):
                try:
                    verifier.verify(variant, pem)
                    accepted.append(number)
                except Exception:
                    pass
            print("checked", len(variants) - 1, "accepted", accepted[:10])
            sys.exit(1 if accepted else 0)
            """
        let python = try runExecutable(at: "/usr/bin/python3", ["-c", harness, pythonVerifier, variantsPath, publicKeyPath])
        #expect(python.status == 0, "\(python.output) \(python.errorOutput)")
        #expect(python.output.contains("checked \(changed.count) accepted []"), "\(python.output)")
    }

    @Test func consistencyProofsVerifyBetweenEveryPairOfHeads() async throws {
        let key = try makeKey()
        try await writeLog(at: logPath, key: key, transfers: ["t-1", "t-2", "t-3", "t-4", "t-5"])
        let (tree, _) = try LogTree.read(directory: logPath, keys: LogKeys([key.verifyingKey]))
        let heads = tree.heads.compactMap(TreeHead.init(seal:))
        #expect(heads.count == 15)
        let headJSON = String(decoding: try CanonicalJSON.encode(heads[0]), as: UTF8.self)
        let documentedOrder = ["chainHash", "keyID", "rootHash", "sealNumber", "sealedAtNanoseconds", "signature", "treeSize"]
        #expect(headJSON.hasPrefix(#"{"chainHash":""#) && !headJSON.contains(" "), "\(headJSON)")
        let positions = documentedOrder.map { headJSON.range(of: "\"\($0)\":")?.lowerBound ?? headJSON.endIndex }
        #expect(positions.isSortedAscending, "protocol/receipts.md's member order: \(headJSON)")
        for (oldIndex, old) in heads.enumerated() {
            for new in heads[oldIndex...] {
                let proof = try ConsistencyProof.make(from: old, to: new, directory: logPath, keys: LogKeys([key.verifyingKey]))
                try proof.verify(with: LogKeys([key.verifyingKey]))
                if old.treeSize < new.treeSize {
                    var swapped = proof
                    (swapped.old, swapped.new) = (new, old)
                    #expect(throws: AuditError.self) { try swapped.verify(with: LogKeys([key.verifyingKey])) }
                }
            }
        }
    }

    /// An auditor kept a head; the log is then rewritten with the same key (a record before the
    /// head changed, everything re-sealed) or truncated. Consistency names which, and no proof
    /// built from the forged log leads to the kept head.
    @Test func aRewrittenOrTruncatedLogFailsConsistencyWithTheKeptHead() async throws {
        let key = try makeKey()
        try await writeLog(at: logPath, key: key, transfers: ["t-1", "t-2", "t-3"])
        let keptHead = directory.subpath("kept.head")
        #expect(try run("settle", ["audit", "head", "--log", logPath, "--public-key", publicKeyPath, "--out", keptHead]).status == 0)
        try await writeLog(at: logPath, key: key, transfers: ["t-4"])
        let proofPath = directory.subpath("proof")
        let fromOriginal = try run("settle", ["audit", "consistency", keptHead, "--log", logPath, "--public-key", publicKeyPath, "--out", proofPath])
        #expect(fromOriginal.status == 0, "\(fromOriginal.errorOutput)")
        let checked = try run("settle", ["audit", "check-consistency", proofPath, "--public-key", publicKeyPath])
        #expect(checked.status == 0, "\(checked.errorOutput)")
        #expect(checked.output.contains("the log of 12 records (seal 12) extends the log of 9 records (seal 9)"), "\(checked.output)")

        let rewritten = directory.subpath("rewritten")
        try await writeLog(at: rewritten, key: key, transfers: ["t-1", "t-2", "t-3", "t-4"], changing: 2)
        let refused = try run("settle", ["audit", "consistency", keptHead, "--log", rewritten, "--public-key", publicKeyPath])
        #expect(refused.status == 1)
        #expect(refused.errorOutput.contains("the log was rewritten"), "\(refused.errorOutput)")

        let truncated = directory.subpath("truncated")
        try await writeLog(at: truncated, key: key, transfers: ["t-1", "t-2"])
        let short = try run("settle", ["audit", "consistency", keptHead, "--log", truncated, "--public-key", publicKeyPath])
        #expect(short.status == 1)
        #expect(short.errorOutput.contains("the log was truncated"), "\(short.errorOutput)")

        let old = try CanonicalJSON.decode(TreeHead.self, from: try readBytes(keptHead), what: "head")
        let (forged, _) = try LogTree.read(directory: rewritten, keys: LogKeys([key.verifyingKey]))
        let forgedHead = try #require(forged.latestHead.flatMap(TreeHead.init(seal:)))
        let forgedPath = MerkleProof.consistency(from: Int(old.treeSize), in: forged.leaves[...])
        let forgedProof = ConsistencyProof(format: ConsistencyProof.formatName, old: old, new: forgedHead, proof: forgedPath.map(\.description))
        #expect(throws: AuditError.self) { try forgedProof.verify(with: LogKeys([key.verifyingKey])) }
    }
}

extension Array where Element: Comparable {
    fileprivate var isSortedAscending: Bool { zip(self, dropFirst()).allSatisfy { $0 < $1 } }
}
