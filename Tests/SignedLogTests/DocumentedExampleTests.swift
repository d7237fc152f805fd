import Foundation
import SettleTestSupport
import Testing
@testable import SignedLog

/// protocol/recovery-log.md ends with an annotated hex dump of a tiny log. This test writes that
/// log with the document's example key and clock and requires the document to hold exactly the
/// dump it produces, so the document can never drift from the code.
@Suite("The format document's example")
struct DocumentedExampleTests {
    static let examplePrivateKey = """
        -----BEGIN PRIVATE KEY-----
        MC4CAQAwBQYDK2VwBCIEIKjeWwACWCiOer+KGOSn+8q1k9LT9+vFs55mmaV/z94l
        -----END PRIVATE KEY-----

        """
    static let exampleTime: Int64 = 1_795_000_000_000_000_000  // 2026-11-18T11:06:40Z

    @Test func documentHoldsTheExampleLogByteForByte() async throws {
        let directory = try TemporaryDirectory()
        var configuration = SignedLogConfiguration()
        configuration.nowNanoseconds = { Self.exampleTime }
        let key = try SigningKey(pem: Array(Self.examplePrivateKey.utf8))
        let log = try await SignedLog.open(directory: directory.subpath("log"), signingKey: key, configuration: configuration)
        _ = try await log.append(contentsOf: [LogEntry(type: RecordType(rawValue: 0x0102), payload: Array("{\"transfer\":\"t-1\"}".utf8))])
        await log.close()
        let bytes = try readBytes(directory.subpath("log") + "/" + SegmentDirectory.segmentName(0))
        let dump = ExampleDump.annotate(bytes)

        let document = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("protocol/recovery-log.md")
        let text = try String(contentsOf: document, encoding: .utf8)
        #expect(text.contains("```text\n" + dump + "```\n"), "protocol/recovery-log.md must hold this dump:\n\(dump)")
        #expect(text.contains(hexEncoded(key.verifyingKey.keyID.bytes)))
    }
}

/// Prints a one-record segment field by field, 16 bytes a line at most, each with its meaning.
enum ExampleDump {
    static func annotate(_ bytes: [UInt8]) -> String {
        var lines: [String] = []
        var offset = 0
        func field(_ length: Int, _ meaning: String) {
            var first = true
            var start = offset
            while start < offset + length {
                let end = min(start + 16, offset + length)
                let hexBytes = bytes[start..<end].map { hexEncoded([$0]) }.joined(separator: " ")
                let paddedHex = hexBytes.padding(toLength: 47, withPad: " ", startingAt: 0)
                let offsetText = String(start, radix: 16).leftPadded(to: 4)
                lines.append("\(offsetText)  \(paddedHex)  \(first ? meaning : "")".trimmingTrailingSpaces())
                first = false
                start = end
            }
            offset += length
        }
        field(8, "segment header: magic \"SETTLELG\"")
        field(4, "format version 2")
        field(4, "header length 96")
        field(8, "segment number 0")
        field(8, "first LSN 1")
        field(8, "seal number before: 0 (no seal yet)")
        field(8, "last checkpoint before: none")
        field(32, "chain hash before: the genesis (32 zero bytes)")
        field(8, "created at, ns since the epoch")
        field(4, "Merkle peaks before the segment: 0 (none before segment 0)")
        field(4, "CRC-32C of header bytes 0..<92")
        let recordLength = bytes[offset..<(offset + 4)].reduce(0) { $0 << 8 | Int($1) }
        field(4, "record frame: body length \(recordLength)")
        field(4, "CRC-32C of the body")
        field(1, "kind 'R' (record)")
        field(8, "LSN 1")
        field(2, "type 0x0102 (COMMIT)")
        field(8, "appended at, ns since the epoch")
        field(recordLength - 19 - 32, "payload: {\"transfer\":\"t-1\"}")
        field(32, "chain hash = SHA-256(genesis ‖ body bytes before this field)")
        field(4, "seal frame: body length 185")
        field(4, "CRC-32C of the body")
        field(1, "kind 'S' (seal)")
        field(8, "seal number 1")
        field(8, "last LSN 1")
        field(32, "chain hash at LSN 1")
        field(32, "Merkle root over LSNs 1...1 = SHA-256(0x00 ‖ the record's body)")
        field(8, "sealed at, ns since the epoch")
        field(32, "key id: SHA-256 of the public key's DER")
        field(64, "Ed25519 signature over \"settle-log-seal-v2\" ‖ the 120 bytes above it")
        precondition(offset == bytes.count, "the example has \(bytes.count - offset) bytes the dump does not explain")
        return lines.joined(separator: "\n") + "\n"
    }
}

extension String {
    fileprivate func trimmingTrailingSpaces() -> String {
        var copy = self
        while copy.last == " " { copy.removeLast() }
        return copy
    }
}
