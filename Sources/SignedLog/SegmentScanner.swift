/// Walks one segment's frames from its header, checking every CRC, LSN, chain hash and seal, and
/// hands over records only in sealed batches: nothing unsealed is ever reported as log content.
///
/// The scanner only describes what it found; the policy (torn tail or corruption, fail or carry
/// on) belongs to its callers: opening, reading and auditing.
struct SegmentScanner {
    /// Without keys, seals are checked for structure, number, LSN and chain, not for who signed
    /// them (`settle audit dump` without `--public-key`); an audit always passes them.
    let keys: LogKeys?

    struct Result {
        /// The chain as of the last valid seal in the segment (or the header, if none).
        var sealed: ChainPosition
        /// The byte offset just past that seal: where a clean segment ends.
        var sealedEndOffset: Int
        var sealCount = 0
        var recordCount = 0
        var stop: Stop
    }

    enum Stop: Equatable {
        /// The bytes end exactly at the last seal.
        case cleanEnd
        /// Well-formed records follow the last seal, but no seal covers them.
        case unsealedRecords(count: Int)
        /// A frame at `offset` fails a check. `isCompleteSeal`: it is a whole seal with a valid
        /// CRC, so no torn write can explain it.
        case defect(offset: Int, reason: String, isCompleteSeal: Bool)
    }

    /// - Parameters:
    ///   - start: where the log stands before the segment, when the caller knows more than the
    ///     header says (the Merkle tree, across version 1 segments); by default the header.
    ///   - onSealedBatch: receives each batch's records, its seal and the seal's offset.
    /// - Parameter startOffset: where a frame starts after a seal, with `start` the position that
    ///   seal leaves; the segment's first frame when nil.
    func scan(
        _ bytes: [UInt8], header: SegmentHeader, start: ChainPosition? = nil, startOffset: Int? = nil,
        onSealedBatch: ([LogRecord], LogSeal, _ sealOffset: Int) throws -> Void = { _, _, _ in }
    ) rethrows -> Result {
        var position = start ?? ChainPosition(before: header)
        var offset = startOffset ?? header.byteCount
        var result = Result(sealed: position, sealedEndOffset: offset, stop: .cleanEnd)
        var pending: [LogRecord] = []
        var pendingCheckpoint: LSN?
        var pendingRotation: (rotation: KeyRotation, lsn: LSN)?

        func defect(_ reason: String, completeSeal: Bool = false) -> Stop {
            .defect(offset: offset, reason: reason, isCompleteSeal: completeSeal)
        }

        while true {
            switch FrameCodec.decode(bytes, at: offset) {
            case .end:
                result.stop = pending.isEmpty ? .cleanEnd : .unsealedRecords(count: pending.count)
                return result
            case .defective(let reason):
                result.stop = defect(reason)
                return result
            case .record(let record, let body, let frameByteCount):
                let expectedLSN = position.lastLSN.next
                guard record.lsn == expectedLSN else {
                    result.stop = defect("record has LSN \(record.lsn) where LSN \(expectedLSN) must follow")
                    return result
                }
                let chainHash = FrameCodec.chainHash(
                    previous: position.chainHash, hashedBody: body.dropLast(SHA256Digest.byteCount)
                )
                guard chainHash == record.chainHash else {
                    result.stop = defect(
                        "chain hash of LSN \(record.lsn) is \(record.chainHash), but the chain gives \(chainHash)"
                    )
                    return result
                }
                if let rotated = pendingRotation {
                    result.stop = defect("LSN \(record.lsn) follows the key rotation at LSN \(rotated.lsn) under the same seal")
                    return result
                }
                if record.type == .keyRotation {
                    guard let rotation = KeyRotation.decode(record.payload) else {
                        result.stop = defect(
                            "key rotation at LSN \(record.lsn) is malformed: \(record.payload.count) bytes, not \(KeyRotation.payloadByteCount)")
                        return result
                    }
                    if let problem = rotation.signatureProblem(lsn: record.lsn, previousChainHash: position.chainHash) {
                        result.stop = defect(problem)
                        return result
                    }
                    pendingRotation = (rotation, record.lsn)
                }
                if record.type == .checkpoint {
                    if case .failure(let problem) = Checkpoint.decode(record.payload) {
                        result.stop = defect("checkpoint at LSN \(record.lsn) is malformed: \(problem.reason)")
                        return result
                    }
                    pendingCheckpoint = record.lsn
                }
                position.lastLSN = record.lsn
                position.chainHash = chainHash
                position.tree?.append(leaf: MerkleHash.leaf(body))
                pending.append(record)
                offset += frameByteCount
            case .seal(let seal, let frameByteCount):
                if let problem = sealProblem(
                    seal, position: position, pendingCount: pending.count, segmentVersion: header.formatVersion
                ) ?? keyProblem(seal, position: position, rotation: pendingRotation?.rotation) {
                    result.stop = defect(problem, completeSeal: true)
                    return result
                }
                position.sealNumber = seal.number
                position.keyInForce = pendingRotation?.rotation.newKeyID ?? seal.keyID
                if let rotated = pendingRotation { position.keyRotatedAt = rotated.lsn }
                pendingRotation = nil
                if let checkpoint = pendingCheckpoint { position.lastCheckpoint = checkpoint }
                try onSealedBatch(pending, seal, offset)
                result.sealCount += 1
                result.recordCount += pending.count
                pending.removeAll(keepingCapacity: true)
                pendingCheckpoint = nil
                offset += frameByteCount
                result.sealed = position
                result.sealedEndOffset = offset
            }
        }
    }

    private func sealProblem(
        _ seal: LogSeal, position: ChainPosition, pendingCount: Int, segmentVersion: UInt32
    ) -> String? {
        if seal.number != position.sealNumber + 1 {
            return "seal number \(seal.number) where seal \(position.sealNumber + 1) must follow"
        }
        if pendingCount == 0 { return "seal \(seal.number) covers no new record" }
        if seal.lastLSN != position.lastLSN {
            return "seal \(seal.number) claims last LSN \(seal.lastLSN), but the last record is LSN \(position.lastLSN)"
        }
        if seal.chainHash != position.chainHash {
            return "seal \(seal.number) claims chain hash \(seal.chainHash), but the chain gives \(position.chainHash)"
        }
        if seal.formatVersion != segmentVersion {
            return "seal \(seal.number) is a version \(seal.formatVersion) seal in a version \(segmentVersion) segment"
        }
        if let treeRoot = seal.treeRoot, let tree = position.tree, treeRoot != tree.root {
            return "seal \(seal.number) claims Merkle root \(treeRoot), but the records give \(tree.root)"
        }
        return nil
    }

    /// Whether the right key made `seal`: the key in force (the first seal's, then each rotation's
    /// new key from the seal after it), one of the given keys, with a valid signature.
    private func keyProblem(_ seal: LogSeal, position: ChainPosition, rotation: KeyRotation?) -> String? {
        if let rotation, rotation.oldKeyID != seal.keyID {
            return "seal \(seal.number) was made by key id \(seal.keyID), but the key rotation it seals is from key id \(rotation.oldKeyID)"
        }
        if let inForce = position.keyInForce, seal.keyID != inForce {
            return "seal \(seal.number) was made by key id \(seal.keyID), but key id \(inForce) signs the log here"
        }
        guard let keys else { return nil }
        guard let key = keys.key(for: seal.keyID) else {
            if let rotatedAt = position.keyRotatedAt, position.keyInForce == seal.keyID {
                return "seal \(seal.number) was made by key id \(seal.keyID), to which the log rotated at LSN \(rotatedAt); "
                    + "the log verifies with the given keys up to LSN \(rotatedAt): give that key's public key to verify further"
            }
            let given = keys.keys.map(\.keyID.description).joined(separator: ", ")
            return "seal \(seal.number) was made by key id \(seal.keyID), not by a given key (\(given))"
        }
        if !key.isValidSignature(seal.signature, for: seal.signedMessage) {
            return "the Ed25519 signature of seal \(seal.number) does not verify"
        }
        return nil
    }

    /// Whether a complete, correctly signed seal from `key` starts anywhere after `offset`. Used to
    /// tell corruption (damage before a valid seal) from a torn tail (damage after the last one).
    func containsValidSeal(_ bytes: [UInt8], after offset: Int, segmentVersion: UInt32) -> Bool {
        let sealBodyByteCount = LogFormat.sealBodyByteCount(version: segmentVersion)
        let frameByteCount = LogFormat.framePrefixByteCount + sealBodyByteCount
        let lengthPrefix: [UInt8] = [0, 0, 0, UInt8(sealBodyByteCount)]
        var candidate = offset + 1
        while candidate + frameByteCount <= bytes.count {
            defer { candidate += 1 }
            guard bytes[candidate + LogFormat.framePrefixByteCount] == LogFormat.sealKind,
                bytes[candidate..<(candidate + 4)].elementsEqual(lengthPrefix),
                case .seal(let seal, _) = FrameCodec.decode(bytes, at: candidate)
            else { continue }
            guard let keys else { return true }
            if keys.verifies(seal.signature, for: seal.signedMessage, by: seal.keyID) { return true }
        }
        return false
    }
}
