import Foundation
import SettleTestSupport
import Testing
@testable import SignedLog

/// Logs written before the Merkle tree (format version 1, Fixtures/v1-log: six segments, a
/// checkpoint, sealed with the document's example key) stay verifiable, and a writer continues
/// them in version 2 with a tree over every record, the old ones included.
@Suite("Version 1 logs")
struct VersionOneLogTests {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/v1-log").path
    static var key: SigningKey { get throws { try SigningKey(pem: Array(DocumentedExampleTests.examplePrivateKey.utf8)) } }

    @Test func aVersionOneLogVerifiesAsItIs() throws {
        let summary = try LogAuditor(directory: Self.fixture, verifyingKey: try Self.key.verifyingKey).verify()
        #expect(summary.recordCount == 32)
        #expect(summary.segmentCount == 6)
        #expect(summary.formatVersions == [1])
        #expect(summary.lastSeal?.treeRoot == nil)
    }

    @Test func openingContinuesInVersionTwoWithATreeOverEveryRecord() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.subpath("log")
        try copyDirectory(Self.fixture, to: path)
        let key = try Self.key
        let oldLeaves = try readAll(path, key: key.verifyingKey).map(\.leafHash)

        let log = try await SignedLog.open(directory: path, signingKey: key)
        #expect(log.openReport.upgradedFromVersion1)
        #expect(try await log.append(entry("after the upgrade")) == 33)
        await log.close()

        let header = try SegmentDirectory(path: path).readHeader(of: 6)
        #expect(header.formatVersion == 2)
        #expect(header.frontierBefore == MerkleFrontier(size: 32, peaks: [MerkleProof.root(of: oldLeaves[...])]))
        let summary = try LogAuditor(directory: path, verifyingKey: key.verifyingKey).verify()
        #expect(summary.formatVersions == [1, 2])
        #expect(summary.recordCount == 33)
        let leaves = try readAll(path, key: key.verifyingKey).map(\.leafHash)
        #expect(summary.lastSeal?.treeRoot == MerkleProof.root(of: leaves[...]))

        // Reopened, it is a version 2 log like any other: no second upgrade, the tree carries on.
        let reopened = try await SignedLog.open(directory: path, signingKey: key)
        #expect(!reopened.openReport.upgradedFromVersion1)
        #expect(try await reopened.append(entry("and again")) == 34)
        await reopened.close()
        #expect(try LogAuditor(directory: path, verifyingKey: key.verifyingKey).verify().recordCount == 34)
    }

    /// A header's frontier is not signed; the verifier recomputes the tree and refuses a header
    /// that disagrees with it.
    @Test func aForgedFrontierInAVersionTwoHeaderFailsTheAudit() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.subpath("log")
        try copyDirectory(Self.fixture, to: path)
        let key = try Self.key
        let log = try await SignedLog.open(directory: path, signingKey: key)
        _ = try await log.append(entry("after the upgrade"))
        await log.close()
        let segment = path + "/" + SegmentDirectory.segmentName(6)
        var header = try SegmentDirectory(path: path).readHeader(of: 6)
        let original = header.encoded().count
        header.frontierBefore = MerkleFrontier(size: 32, peaks: [SHA256Digest(hashing: [0])])
        var bytes = try readBytes(segment)
        bytes.replaceSubrange(0..<original, with: header.encoded())
        try writeBytes(bytes, to: segment)
        #expect {
            try LogAuditor(directory: path, verifyingKey: key.verifyingKey).verify()
        } throws: { error in
            "\(error)".contains("Merkle frontier")
        }
    }
}
