import Foundation
import SettleTestSupport
import Testing
@testable import SignedLog

@Suite("Tampering: every changed byte, removed or reordered record, or other key fails the audit")
struct TamperTests {
    @Test func flippingAnyByteFailsTheAuditNamingSegmentAndOffset() async throws {
        let built = try await BatchedLog.make(batches: [["alpha", "beta"], ["gamma"], ["delta", "epsilon"]])
        let original = try readBytes(built.segmentPath)
        let starts = frameStarts(original)
        let auditor = LogAuditor(directory: built.logPath, verifyingKey: built.key.verifyingKey)
        _ = try auditor.verify()
        for offset in 0..<original.count {
            var bytes = original
            bytes[offset] ^= 0x01
            try writeBytes(bytes, to: built.segmentPath)
            let error = #expect(throws: SignedLogError.self, "flip at \(offset)") { try auditor.verify() }
            let frameStart = offset < built.headerEnd ? 0 : starts.last(where: { $0 <= offset })!
            #expect(error?.segment == SegmentDirectory.segmentName(0), "flip at \(offset)")
            #expect(error?.offset == frameStart, "flip at \(offset): \(String(describing: error))")
        }
        try writeBytes(original, to: built.segmentPath)
        _ = try auditor.verify()
    }

    @Test func removingAWholeRecordFails() async throws {
        let built = try await BatchedLog.make(batches: [["alpha", "beta", "gamma"], ["delta"]])
        let original = try readBytes(built.segmentPath)
        let starts = frameStarts(original)
        // Frames: alpha, beta, gamma, seal, delta, seal. Remove beta.
        let withoutBeta = Array(original[..<starts[1]] + original[starts[2]...])
        try writeBytes(withoutBeta, to: built.segmentPath)
        let error = #expect(throws: SignedLogError.self) {
            try LogAuditor(directory: built.logPath, verifyingKey: built.key.verifyingKey).verify()
        }
        #expect(error?.offset == starts[1])
        #expect(error?.description.contains("LSN") == true)
    }

    @Test func reorderingRecordsFails() async throws {
        let built = try await BatchedLog.make(batches: [["alpha", "beta", "gamma"], ["delta"]])
        let original = try readBytes(built.segmentPath)
        let starts = frameStarts(original)
        let swapped = Array(original[..<starts[0]] + original[starts[1]..<starts[2]] + original[starts[0]..<starts[1]] + original[starts[2]...])
        try writeBytes(swapped, to: built.segmentPath)
        let error = #expect(throws: SignedLogError.self) {
            try LogAuditor(directory: built.logPath, verifyingKey: built.key.verifyingKey).verify()
        }
        #expect(error?.offset == starts[0])
    }

    @Test func removingAWholeBatchWithItsSealFails() async throws {
        let built = try await BatchedLog.make(batches: [["alpha"], ["beta"], ["gamma"]])
        let original = try readBytes(built.segmentPath)
        let withoutMiddle = Array(original[..<built.batchEnds[0]] + original[built.batchEnds[1]...])
        try writeBytes(withoutMiddle, to: built.segmentPath)
        let error = #expect(throws: SignedLogError.self) {
            try LogAuditor(directory: built.logPath, verifyingKey: built.key.verifyingKey).verify()
        }
        #expect(error?.offset == built.batchEnds[0])
    }

    @Test func anotherKeyFails() async throws {
        let built = try await BatchedLog.make(batches: [["alpha"], ["beta"]])
        let error = #expect(throws: SignedLogError.self) {
            try LogAuditor(directory: built.logPath, verifyingKey: SigningKey.generate().verifyingKey).verify()
        }
        #expect(error?.description.contains("key id") == true)
    }

    @Test func aMissingOrSwappedSegmentFails() async throws {
        let directory = try TemporaryDirectory()
        let (path, key) = try await segmentedLog(in: directory)
        let auditor = LogAuditor(directory: path, verifyingKey: key.verifyingKey)
        _ = try auditor.verify()
        let one = path + "/" + SegmentDirectory.segmentName(1)
        let two = path + "/" + SegmentDirectory.segmentName(2)
        let oneBytes = try readBytes(one)
        let twoBytes = try readBytes(two)
        try writeBytes(twoBytes, to: one)
        try writeBytes(oneBytes, to: two)
        let swapped = #expect(throws: SignedLogError.self) { try auditor.verify() }
        #expect(swapped?.segment == SegmentDirectory.segmentName(1))
        try FileManager.default.removeItem(atPath: one)
        let missing = #expect(throws: SignedLogError.self) { try auditor.verify() }
        #expect(missing?.description.contains("missing") == true)
    }

    @Test func anUnsealedTailFailsTheStrictAuditOnly() async throws {
        let built = try await BatchedLog.make(batches: [["alpha"], ["beta", "gamma"]])
        let original = try readBytes(built.segmentPath)
        // Keep "beta" whole but drop its batch's seal: records no seal covers.
        let starts = frameStarts(original)
        try writeBytes(Array(original[..<starts[3]]), to: built.segmentPath)
        var auditor = LogAuditor(directory: built.logPath, verifyingKey: built.key.verifyingKey)
        let error = #expect(throws: SignedLogError.self) { try auditor.verify() }
        #expect(error?.code == .unsealedTail)
        auditor.allowsUnsealedTail = true
        let summary = try auditor.verify()
        #expect(summary.recordCount == 1)
        #expect(summary.unsealedTailByteCount == starts[3] - built.batchEnds[0])
    }
}
