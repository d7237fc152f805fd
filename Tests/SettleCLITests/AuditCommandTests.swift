import Foundation
import SignedLog
import SettleTestSupport
import Testing

@Suite("settle keygen and settle audit", .timeLimit(.minutes(5)))
struct AuditCommandTests {
    let directory: TemporaryDirectory
    let keys: String
    let logPath: String

    init() throws {
        directory = try TemporaryDirectory()
        keys = directory.subpath("keys")
        logPath = directory.subpath("log")
    }

    private func makeKeysAndLog(records: Int) async throws -> SigningKey {
        let keygen = try run("settle", ["keygen", "--out", keys])
        #expect(keygen.status == 0, "\(keygen.errorOutput)")
        let key = try SigningKey(pemFile: keys + "/signing-key.pem")
        let log = try await SignedLog.open(directory: logPath, signingKey: key)
        for index in 0..<records {
            _ = try await log.append(LogEntry(type: RecordType(rawValue: 0x0100), payload: Array("{\"n\":\(index)}".utf8)))
        }
        _ = try await log.appendCheckpoint(Checkpoint(unfinished: [.init(id: "t-9", state: [])]))
        await log.close()
        return key
    }

    @Test func keygenWritesAnOwnerOnlyPrivateKeyAndNeverOverwrites() async throws {
        let key = try await makeKeysAndLog(records: 0)
        let privateMode = try FileManager.default.attributesOfItem(atPath: keys + "/signing-key.pem")[.posixPermissions] as? Int
        #expect(privateMode == 0o600)
        #expect(try VerifyingKey(pemFile: keys + "/signing-key.pub.pem").keyID == key.verifyingKey.keyID)
        let again = try run("settle", ["keygen", "--out", keys])
        #expect(again.status != 0)
        #expect(again.errorOutput.contains("already exists"))
        #expect(try SigningKey(pemFile: keys + "/signing-key.pem").verifyingKey.keyID == key.verifyingKey.keyID)
    }

    @Test func verifyPassesWithASummary() async throws {
        _ = try await makeKeysAndLog(records: 25)
        let verified = try run("settle", ["audit", "verify", "--log", logPath, "--public-key", keys + "/signing-key.pub.pem"])
        #expect(verified.status == 0, "\(verified.errorOutput)")
        #expect(verified.output.contains("verified"))
        #expect(verified.output.contains("records       26 (1 checkpoints)"), "\(verified.output)")
        #expect(verified.output.contains("LSNs          1 … 26"))
        #expect(verified.output.contains("seals         26"))
        #expect(verified.output.contains("time range"))
        // Not a terminal: no progress bar escape codes in the output.
        #expect(!verified.output.contains("\r"))
    }

    @Test func verifyFailsNamingSegmentAndOffset() async throws {
        _ = try await makeKeysAndLog(records: 5)
        let segment = logPath + "/00000000000000000000.segment"
        var bytes = try readBytes(segment)
        bytes[200] ^= 0xFF
        try writeBytes(bytes, to: segment)
        let failed = try run("settle", ["audit", "verify", "--log", logPath, "--public-key", keys + "/signing-key.pub.pem"])
        #expect(failed.status == 1)
        #expect(failed.errorOutput.contains("FAILED: segment 00000000000000000000.segment, offset "), "\(failed.errorOutput)")
        let offset = failed.errorOutput.split(separator: "offset ").last.flatMap { Int($0.prefix { $0.isNumber }) }
        #expect(offset.map { $0 <= 200 && $0 > 96 } == true)
    }

    @Test func verifyWithAnotherKeyFails() async throws {
        _ = try await makeKeysAndLog(records: 3)
        let other = directory.subpath("other")
        #expect(try run("settle", ["keygen", "--out", other]).status == 0)
        let failed = try run("settle", ["audit", "verify", "--log", logPath, "--public-key", other + "/signing-key.pub.pem"])
        #expect(failed.status == 1)
        #expect(failed.errorOutput.contains("key id"))
    }

    /// Payloads come from clients: one holding a C1 control (CSI, U+009B, which starts a terminal
    /// escape sequence as ESC [ does) is printed as hex, never sent to the auditor's terminal.
    @Test func dumpNeverPrintsAPayloadsControlCharacters() async throws {
        let keygen = try run("settle", ["keygen", "--out", keys])
        #expect(keygen.status == 0, "\(keygen.errorOutput)")
        let key = try SigningKey(pemFile: keys + "/signing-key.pem")
        let log = try await SignedLog.open(directory: logPath, signingKey: key)
        _ = try await log.append(LogEntry(type: RecordType(rawValue: 0x0100), payload: Array("{\"id\":\"x\u{9B}2J\"}".utf8)))
        await log.close()
        let dump = try run("settle", ["audit", "dump", "--log", logPath])
        #expect(dump.status == 0, "\(dump.errorOutput)")
        #expect(!dump.output.unicodeScalars.contains { $0.value == 0x9B })
        #expect(dump.output.contains("0x7b226964223a2278c29b324a227d"), "\(dump.output)")
    }

    @Test func dumpPrintsRecordsAndSealsAsTextOrJSON() async throws {
        _ = try await makeKeysAndLog(records: 4)
        let text = try run("settle", ["audit", "dump", "--log", logPath, "--from", "3"])
        #expect(text.status == 0, "\(text.errorOutput)")
        let lines = text.output.split(separator: "\n")
        #expect(lines.first == "# seal signatures not checked (no --public-key)")
        #expect(lines.filter { $0.hasPrefix("LSN ") }.count == 3)
        #expect(lines.contains { $0.hasPrefix("LSN 3 ") && $0.hasSuffix("{\"n\":2}") })
        #expect(lines.contains { $0.hasPrefix("LSN 5 ") && $0.contains("CHECKPOINT") })

        let json = try run("settle", ["audit", "dump", "--log", logPath, "--json", "--public-key", keys + "/signing-key.pub.pem"])
        #expect(json.status == 0, "\(json.errorOutput)")
        let objects = try json.output.split(separator: "\n").map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
        }
        let records = objects.filter { $0["kind"] as? String == "record" }
        let seals = objects.filter { $0["kind"] as? String == "seal" }
        #expect(records.map { $0["lsn"] as? Int } == [1, 2, 3, 4, 5])
        #expect(records[0]["payloadText"] as? String == "{\"n\":0}")
        #expect(records[4]["payloadBase64"] != nil, "a checkpoint's binary payload is base64")
        #expect(seals.count == 5)
        #expect((seals.last?["signature"] as? String)?.count == 128)
    }

    /// An auditor with only the openssl command line can check a seal from the format document.
    @Test func aSealVerifiesWithOpenSSLPkeyutl() async throws {
        let key = try await makeKeysAndLog(records: 2)
        var lastSeal: LogSeal?
        try LogReader(directory: logPath, verifyingKey: key.verifyingKey).forEachBatch(from: .first) { lastSeal = $1 }
        let seal = try #require(lastSeal)
        try writeBytes(seal.signedMessage, to: directory.subpath("message"))
        try writeBytes(seal.signature, to: directory.subpath("signature"))
        let openssl = Process()
        openssl.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        openssl.arguments = [
            "pkeyutl", "-verify", "-pubin", "-inkey", keys + "/signing-key.pub.pem", "-rawin",
            "-in", directory.subpath("message"), "-sigfile", directory.subpath("signature"),
        ]
        let output = Pipe()
        openssl.standardOutput = output
        try openssl.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        openssl.waitUntilExit()
        #expect(openssl.terminationStatus == 0)
        #expect(text.contains("Signature Verified Successfully"))
    }

    /// A live log may end in bytes no seal covers yet: `verify` refuses them unless asked to
    /// audit a live log, and then says how many bytes it did not trust.
    @Test func anUnsealedTailFailsUnlessAllowedAndIsThenReported() async throws {
        _ = try await makeKeysAndLog(records: 3)
        let segment = logPath + "/00000000000000000000.segment"
        try writeBytes(try readBytes(segment) + Array(repeating: 0xA5, count: 40), to: segment)
        let arguments = ["audit", "verify", "--log", logPath, "--public-key", keys + "/signing-key.pub.pem"]
        let strict = try run("settle", arguments)
        #expect(strict.status == 1, "\(strict.output)")
        #expect(strict.errorOutput.contains("00000000000000000000.segment"), "names the segment: \(strict.errorOutput)")
        let live = try run("settle", arguments + ["--allow-unsealed-tail"])
        #expect(live.status == 0, "\(live.errorOutput)")
        #expect(live.output.contains("unsealed tail 40 bytes after the last seal (not trusted)"), "\(live.output)")
        #expect(live.output.contains("records       4 (1 checkpoints)"), "every sealed record is still verified: \(live.output)")
    }

    /// `settle audit show` prints one transfer's records, in order, each with its seal; an
    /// unknown transfer is an error that says so.
    @Test func showPrintsOneTransfersSealedHistory() async throws {
        let keygen = try run("settle", ["keygen", "--out", keys])
        #expect(keygen.status == 0, "\(keygen.errorOutput)")
        let key = try SigningKey(pemFile: keys + "/signing-key.pem")
        let log = try await SignedLog.open(directory: logPath, signingKey: key)
        for (type, transfer) in [(0x0101, "t-1"), (0x0101, "t-2"), (0x0102, "t-1"), (0x0104, "t-2"), (0x0104, "t-1")] {
            _ = try await log.append(LogEntry(type: RecordType(rawValue: UInt16(type)), payload: Array(#"{"transfer":"\#(transfer)"}"#.utf8)))
        }
        await log.close()
        let shown = try run("settle", ["audit", "show", "--log", logPath, "--public-key", keys + "/signing-key.pub.pem", "t-1"])
        #expect(shown.status == 0, "\(shown.errorOutput)")
        let lines = shown.output.split(separator: "\n")
        #expect(lines.count == 3, "\(shown.output)")
        #expect(lines.map { $0.hasPrefix("LSN ") } == [true, true, true])
        #expect(lines[0].contains("ACCEPTED") && lines[1].contains("COMMIT") && lines[2].contains("END"), "\(shown.output)")
        #expect(lines.allSatisfy { $0.contains("sealed by seal") && $0.contains(#""transfer":"t-1""#) })
        let unknown = try run("settle", ["audit", "show", "--log", logPath, "t-404"])
        #expect(unknown.status == 1)
        #expect(unknown.errorOutput.contains("the log holds no record of transfer t-404"))
    }
}
