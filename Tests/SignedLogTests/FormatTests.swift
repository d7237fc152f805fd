import SettleTestSupport
import Testing
@testable import SignedLog

@Suite("Byte format pieces")
struct FormatTests {
    @Test(arguments: [UInt32(1), 2])
    func segmentHeaderRoundTripsAndChecksItself(version: UInt32) throws {
        var frontier = MerkleFrontier.empty
        for leaf in 0..<1233 { frontier.append(leaf: MerkleHash.leaf([UInt8(leaf & 0xFF)])) }
        let header = SegmentHeader(
            formatVersion: version, segmentNumber: 7, firstLSN: 1234, sealNumberBefore: 99, lastCheckpointBefore: 1200,
            chainHashBefore: SHA256Digest(hashing: [1, 2, 3]), createdAtNanoseconds: 1_790_000_000_123_456_789,
            frontierBefore: version == 1 ? nil : frontier
        )
        let bytes = header.encoded()
        // 1233 = 0b10011010001: five peaks.
        #expect(bytes.count == (version == 1 ? 96 : 96 + 5 * 32))
        #expect(SegmentHeader.statedByteCount(Array(bytes.prefix(96))) == bytes.count)
        #expect(Array(bytes[0..<8]) == Array("SETTLELG".utf8))
        #expect(try SegmentHeader.decode(bytes).get() == header)
        for offset in 0..<bytes.count {
            var damaged = bytes
            damaged[offset] ^= 0x80
            guard case .failure = SegmentHeader.decode(damaged) else {
                Issue.record("a flip at header byte \(offset) went unnoticed")
                continue
            }
        }
    }

    @Test func aVersionTwoHeaderMustHoldOnePeakPerSetBit() {
        var header = SegmentHeader(
            segmentNumber: 1, firstLSN: 4, sealNumberBefore: 1, lastCheckpointBefore: .none,
            chainHashBefore: SHA256Digest(hashing: [1]), createdAtNanoseconds: 0,
            frontierBefore: MerkleFrontier(size: 3, peaks: [SHA256Digest(hashing: [1]), SHA256Digest(hashing: [2])])
        )
        #expect(throws: Never.self) { try SegmentHeader.decode(header.encoded()).get() }
        header.firstLSN = 5  // four records before it: one peak, not two
        guard case .failure(let defect) = SegmentHeader.decode(header.encoded()) else {
            Issue.record("a frontier of the wrong shape was accepted")
            return
        }
        #expect(defect.reason.contains("there must be 1"))
    }

    @Test func recordFrameLayoutAndChain() {
        var frames: [UInt8] = []
        let previous = SHA256Digest(hashing: [9])
        let record = FrameCodec.encodeRecord(
            lsn: 5, entry: LogEntry(type: RecordType(rawValue: 0x0102), payload: [0xAA, 0xBB]),
            appendedAtNanoseconds: 77, previousChainHash: previous, into: &frames
        ).record
        // length(4) crc(4) | R lsn(8) type(2) time(8) payload(2) chain(32)
        #expect(frames.count == 8 + 1 + 8 + 2 + 8 + 2 + 32)
        #expect(Array(frames[0..<4]) == [0, 0, 0, 53])
        #expect(frames[8] == 0x52)
        #expect(Array(frames[9..<17]) == [0, 0, 0, 0, 0, 0, 0, 5])
        #expect(Array(frames[17..<19]) == [0x01, 0x02])
        #expect(Array(frames[27..<29]) == [0xAA, 0xBB])
        #expect(Array(frames[29...]) == record.chainHash.bytes)
        #expect(record.chainHash == SHA256Digest(hashing: previous.bytes + Array(frames[8..<29])))
        #expect(CRC32C.checksum(frames[8...]) == frames[4..<8].reduce(0) { $0 << 8 | UInt32($1) })
        guard case .record(let decoded, _, let size) = FrameCodec.decode(frames, at: 0) else {
            Issue.record("the frame did not decode")
            return
        }
        #expect(decoded == record)
        #expect(size == frames.count)
    }

    @Test(arguments: [nil, SHA256Digest(hashing: [9])])
    func sealSignsTheDocumentedBytes(treeRoot: SHA256Digest?) throws {
        let key = try SigningKey.generate()
        let unsigned = LogSeal(
            number: 3, lastLSN: 10, chainHash: SHA256Digest(hashing: [4]), treeRoot: treeRoot, sealedAtNanoseconds: -5,
            keyID: key.verifyingKey.keyID, signature: []
        )
        let message = unsigned.signedMessage
        let signedFieldCount = treeRoot == nil ? 88 : 120
        #expect(message.count == 18 + signedFieldCount)
        #expect(Array(message[0..<18]) == Array("settle-log-seal-v\(treeRoot == nil ? 1 : 2)".utf8))
        let seal = unsigned.signed(try key.sign(message))
        var frames: [UInt8] = []
        FrameCodec.encodeSeal(seal, into: &frames)
        #expect(frames.count == 8 + (treeRoot == nil ? 153 : 185))
        // The signed fields are stored verbatim after the kind byte, the root right after the chain hash.
        #expect(Array(frames[9..<(9 + signedFieldCount)]) == Array(message[18...]))
        if let treeRoot { #expect(Array(frames[57..<89]) == treeRoot.bytes) }
        guard case .seal(let decoded, _) = FrameCodec.decode(frames, at: 0) else {
            Issue.record("the seal did not decode")
            return
        }
        #expect(decoded == seal)
        #expect(key.verifyingKey.isValidSignature(decoded.signature, for: decoded.signedMessage))
    }

    @Test func checkpointRoundTripsAndRejectsMalformedPayloads() throws {
        let checkpoint = Checkpoint(unfinished: [.init(id: "t-1", state: [1, 2]), .init(id: "ü", state: [])])
        let bytes = checkpoint.encoded()
        #expect(try Checkpoint.decode(bytes).get() == checkpoint)
        #expect(try Checkpoint.decode(Checkpoint(unfinished: []).encoded()).get().unfinished.isEmpty)
        for length in 0..<bytes.count {
            guard case .failure = Checkpoint.decode(Array(bytes[..<length])) else {
                Issue.record("a checkpoint cut to \(length) bytes decoded")
                continue
            }
        }
        guard case .failure = Checkpoint.decode(bytes + [0]) else {
            Issue.record("trailing bytes were accepted")
            return
        }
    }
}
