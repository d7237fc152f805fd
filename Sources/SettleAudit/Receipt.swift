import Foundation
import SettleCore
import SignedLog

/// Proof of one transfer's sealed records that a third party checks with the log's public key
/// and nothing else: each record's frame body, its RFC 9162 inclusion path, and the signed tree
/// head the paths lead to. The format is specified in protocol/receipts.md.
///
/// A receipt proves that these records are in the log the key signed, at these LSNs. It does
/// not prove that the log holds no other record of the transfer after the head it carries: a
/// later head and a consistency proof answer that.
public struct Receipt: Codable, Sendable, Equatable {
    public static let formatName = "settle-receipt/v1"

    public struct IncludedRecord: Codable, Sendable, Equatable {
        public var lsn: UInt64
        /// The record's frame body (kind, LSN, type, time, payload, chain hash), lower-case hex.
        public var body: String
        /// Sibling hashes from the leaf up, lower-case hex, as RFC 9162 §2.1.3.1 orders them.
        public var inclusionPath: [String]
    }

    public var format: String
    public var transfer: String
    /// The log's Ed25519 public key, PEM SubjectPublicKeyInfo.
    public var publicKey: String
    public var treeHead: TreeHead
    public var records: [IncludedRecord]

    /// The receipt for `transfer` from the log at `directory`, under its latest signed tree head;
    /// it carries the key that signed that head (the log's current key, after any rotation).
    public static func make(transfer: String, directory: String, keys: LogKeys) throws -> Receipt {
        let (tree, kept) = try LogTree.read(directory: directory, keys: keys) { record in
            record.type.rawValue >= RecordType.firstApplicationCode && CoordinatorPayload.transferID(in: record.payload) == transfer
        }
        guard let seal = tree.latestHead, let head = TreeHead(seal: seal), let key = keys.key(for: seal.keyID) else {
            throw AuditError("the log has no version 2 seal, so no signed tree head to prove records against")
        }
        let size = Int(seal.lastLSN.rawValue)
        // A log whose records do not run from LSN 1 to the head (damage a reader let through)
        // must fail here, not index past the leaves it read.
        guard size <= tree.leaves.count else {
            throw AuditError("the latest head covers \(size) records, but the log holds \(tree.leaves.count)")
        }
        let covered = kept.filter { $0.lsn.rawValue <= seal.lastLSN.rawValue }
        guard !covered.isEmpty else { throw AuditError("the log holds no sealed record of transfer \(transfer)") }
        let records = covered.map { record in
            IncludedRecord(
                lsn: record.lsn.rawValue, body: hexEncoded(record.frameBody),
                inclusionPath: MerkleProof.inclusion(of: Int(record.lsn.rawValue - 1), in: tree.leaves[..<size]).map(\.description)
            )
        }
        let pem = String(decoding: try key.pemBytes(), as: UTF8.self)
        return Receipt(format: formatName, transfer: transfer, publicKey: pem, treeHead: head, records: records)
    }

    /// The records this receipt proves, decoded; throws the first reason it proves nothing.
    public func verify(with key: VerifyingKey) throws -> [LogRecord] {
        guard format == Self.formatName else { throw AuditError("not a \(Self.formatName) receipt: format is \(format)") }
        guard Array(publicKey.utf8) == (try key.pemBytes()) else {
            throw AuditError("the receipt's public key is not the given key")
        }
        if let problem = treeHead.problem(verifiedWith: key) { throw AuditError(problem) }
        guard let root = treeHead.root else { throw AuditError("the tree head's root is not well-formed hex") }
        guard !records.isEmpty else { throw AuditError("the receipt holds no record") }
        guard zip(records, records.dropFirst()).allSatisfy({ $0.lsn < $1.lsn }) else {
            throw AuditError("the records are not in strictly increasing LSN order")
        }
        return try records.map { try $0.verified(in: treeHead.treeSize, root: root, transfer: transfer) }
    }
}

extension Receipt.IncludedRecord {
    func verified(in treeSize: UInt64, root: SHA256Digest, transfer: String) throws -> LogRecord {
        guard let bytes = hexDecoded(body), let record = LogRecord(frameBody: bytes[...]) else {
            throw AuditError("record \(lsn): its body is not a well-formed record frame body")
        }
        guard record.lsn.rawValue == lsn else { throw AuditError("record \(lsn): its body holds LSN \(record.lsn)") }
        let path = inclusionPath.compactMap(SHA256Digest.init(hex:))
        guard path.count == inclusionPath.count, lsn >= 1,
            MerkleProof.verifyInclusion(leaf: MerkleHash.leaf(bytes), index: lsn - 1, size: treeSize, path: path, root: root)
        else { throw AuditError("record \(lsn): its inclusion path does not lead to the signed root") }
        guard record.type.rawValue >= RecordType.firstApplicationCode,
            CoordinatorPayload.transferID(in: record.payload) == transfer
        else { throw AuditError("record \(lsn): it is not a record of transfer \(transfer)") }
        return record
    }
}
