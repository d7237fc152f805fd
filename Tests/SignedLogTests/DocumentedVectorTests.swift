import Foundation
import SettleTestSupport
import Testing
@testable import SignedLog

/// protocol/recovery-log.md's numbered test vectors: each changes the document's example
/// segment and states what a verifier must answer, strictly and with `--allow-unsealed-tail`.
/// This test applies every vector and requires exactly the documented verdicts, so an
/// independent verifier can be checked against the same table.
@Suite("The format document's test vectors")
struct DocumentedVectorTests {
    struct Vector: CustomStringConvertible {
        let name: String
        let change: String
        let strict: String
        let live: String
        var description: String { name }
    }

    static func vectors() throws -> [Vector] {
        let text = try String(contentsOf: documentURL, encoding: .utf8)
        guard let start = text.range(of: "```test-vectors\n"), let end = text.range(of: "```", range: start.upperBound..<text.endIndex) else {
            throw TestFailure("protocol/recovery-log.md has no test-vectors block")
        }
        return text[start.upperBound..<end.lowerBound].split(separator: "\n").compactMap { line in
            let fields = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            guard fields.count == 4 else { return nil }
            return Vector(name: fields[0], change: fields[1], strict: fields[2], live: fields[3])
        }
    }

    static var documentURL: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("protocol/recovery-log.md")
    }

    @Test func theDocumentListsVectors() throws {
        #expect(try Self.vectors().count >= 15)
    }

    @Test(arguments: try DocumentedVectorTests.vectors())
    func everyVectorGetsItsDocumentedVerdict(_ vector: Vector) async throws {
        let directory = try TemporaryDirectory()
        let key = try SigningKey(pem: Array(DocumentedExampleTests.examplePrivateKey.utf8))
        var configuration = SignedLogConfiguration()
        configuration.nowNanoseconds = { DocumentedExampleTests.exampleTime }
        let logPath = directory.subpath("log")
        let log = try await SignedLog.open(directory: logPath, signingKey: key, configuration: configuration)
        _ = try await log.append(contentsOf: [LogEntry(type: RecordType(rawValue: 0x0102), payload: Array("{\"transfer\":\"t-1\"}".utf8))])
        await log.close()
        let segment = logPath + "/" + SegmentDirectory.segmentName(0)
        var bytes = try readBytes(segment)
        for operation in vector.change.split(separator: ";") {
            try Self.apply(operation.split(separator: " ").map(String.init), to: &bytes)
        }
        try writeBytes(bytes, to: segment)
        for (allowsTail, expected) in [(false, vector.strict), (true, vector.live)] {
            var auditor = LogAuditor(directory: logPath, verifyingKey: key.verifyingKey)
            auditor.allowsUnsealedTail = allowsTail
            let verdict: String
            do {
                let summary = try auditor.verify()
                verdict =
                    "ok \(summary.recordCount) records"
                    + (summary.unsealedTailByteCount > 0 ? ", \(summary.unsealedTailByteCount) bytes unsealed" : "")
            } catch let error as SignedLogError {
                verdict = "fail 0x" + String(error.offset ?? 0, radix: 16).leftPadded(to: 4) + " " + error.message
            }
            #expect(Self.matches(verdict, expected), "\(vector.name) (\(allowsTail ? "live" : "strict")): documented \(expected), got \(verdict)")
        }
    }

    /// A documented verdict is the start of the actual one: "ok …" in full, or "fail OFFSET " and
    /// the leading words of the reason.
    static func matches(_ actual: String, _ documented: String) -> Bool {
        documented.hasPrefix("ok") ? actual == documented : actual.hasPrefix(documented)
    }

    /// `xor OFFSET BYTE`, `truncate LENGTH`, `append HEX`, `set OFFSET HEX`, and `fixcrc FRAME`
    /// (recompute the CRC-32C of the frame whose length field is at FRAME).
    static func apply(_ words: [String], to bytes: inout [UInt8]) throws {
        func number(_ text: String) throws -> Int {
            guard let value = Int(text.hasPrefix("0x") ? String(text.dropFirst(2)) : text, radix: text.hasPrefix("0x") ? 16 : 10) else {
                throw TestFailure("not a number: \(text)")
            }
            return value
        }
        switch words.first {
        case "none": return
        case "xor": bytes[try number(words[1])] ^= UInt8(try number(words[2]))
        case "truncate": bytes = Array(bytes.prefix(try number(words[1])))
        case "append": bytes += try #require(hexDecoded(words[1]))
        case "set":
            let offset = try number(words[1])
            for (index, byte) in try #require(hexDecoded(words[2])).enumerated() { bytes[offset + index] = byte }
        case "fixcrc":
            let frame = try number(words[1])
            let length = bytes[frame..<(frame + 4)].reduce(0) { $0 << 8 | Int($1) }
            let crc = CRC32C.checksum(bytes[(frame + 8)..<(frame + 8 + length)])
            for index in 0..<4 { bytes[frame + 4 + index] = UInt8(truncatingIfNeeded: crc >> (24 - 8 * index)) }
        default: throw TestFailure("unknown change \(words)")
        }
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
