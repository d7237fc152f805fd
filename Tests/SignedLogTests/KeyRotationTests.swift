import Foundation
import SettleTestSupport
@testable import SignedLog
import Testing

/// Key epochs: a log rotates from key to key without starting anew; auditors follow each
/// rotation to a key they were given, and a rotation needs both keys' signatures.
@Suite("Key rotation")
struct KeyRotationTests {
    let directory: TemporaryDirectory
    let a: SigningKey
    let b: SigningKey
    let c: SigningKey
    var logPath: String { directory.subpath("log") }

    init() throws {
        directory = try TemporaryDirectory()
        (a, b, c) = (try SigningKey.generate(), try SigningKey.generate(), try SigningKey.generate())
    }

    private func append(_ texts: [String], to log: SignedLog) async throws {
        for text in texts { _ = try await log.append(entry(text)) }
    }

    /// LSNs 1–3 under A, rotation to B at 4 (sealed by A), 5–7 under B; reopened with B: 8–9,
    /// rotation to C at 10, 11–12 under C; reopened with C: 13.
    private func writeTwiceRotatedLog() async throws {
        let first = try await SignedLog.open(directory: logPath, signingKey: a)
        try await append(["a1", "a2", "a3"], to: first)
        #expect(try await first.rotateKey(to: b) == 4)
        try await append(["b1", "b2", "b3"], to: first)
        await first.close()
        let second = try await SignedLog.open(directory: logPath, signingKey: b, previousKeys: [a.verifyingKey])
        try await append(["b4", "b5"], to: second)
        #expect(try await second.rotateKey(to: c) == 10)
        try await append(["c1", "c2"], to: second)
        await second.close()
        let third = try await SignedLog.open(directory: logPath, signingKey: c, previousKeys: [a.verifyingKey, b.verifyingKey])
        #expect(try await third.records(from: .first).count == 12, "recovery reads across both rotations")
        try await append(["c3"], to: third)
        await third.close()
    }

    @Test func aLogRotatedTwiceVerifiesWithItsThreeKeysAndNamesTheEpochs() async throws {
        try await writeTwiceRotatedLog()
        let summary = try LogAuditor(directory: logPath, keys: LogKeys([a, b, c].map(\.verifyingKey))).verify()
        #expect(summary.recordCount == 13)
        #expect(
            summary.keyEpochs == [
                KeyEpoch(firstLSN: 1, keyID: a.verifyingKey.keyID), KeyEpoch(firstLSN: 5, keyID: b.verifyingKey.keyID),
                KeyEpoch(firstLSN: 11, keyID: c.verifyingKey.keyID),
            ])
        var rotations: [KeyRotation] = []
        try LogReader(directory: logPath, keys: LogKeys([a, b, c].map(\.verifyingKey))).forEachRecord(from: .first) { record in
            if record.type == .keyRotation, let rotation = KeyRotation.decode(record.payload) { rotations.append(rotation) }
        }
        #expect(rotations.map(\.oldKeyID) == [a.verifyingKey.keyID, b.verifyingKey.keyID])
        #expect(rotations.map(\.newKeyID) == [b.verifyingKey.keyID, c.verifyingKey.keyID])
    }

    @Test func theOldKeyAloneVerifiesUpToTheRotationAndNoFurther() async throws {
        try await writeTwiceRotatedLog()
        let error = #expect(throws: SignedLogError.self) {
            try LogAuditor(directory: logPath, verifyingKey: a.verifyingKey).verify()
        }
        #expect(error?.message.contains("to which the log rotated at LSN 4") == true, "\(String(describing: error))")
        #expect(error?.message.contains("verifies with the given keys up to LSN 4") == true)
        let missingMiddle = #expect(throws: SignedLogError.self) {
            try LogAuditor(directory: logPath, keys: LogKeys([a.verifyingKey, c.verifyingKey])).verify()
        }
        #expect(missingMiddle?.message.contains("rotated at LSN 4") == true, "\(String(describing: missingMiddle))")
    }

    @Test func aRotatedLogRefusesItsOldKeyAndNeedsThePreviousKeysToRecover() async throws {
        let log = try await SignedLog.open(directory: logPath, signingKey: a)
        try await append(["a1"], to: log)
        _ = try await log.rotateKey(to: b)
        await log.close()
        let withOldKey = await #expect(throws: SignedLogError.self) { try await SignedLog.open(directory: logPath, signingKey: self.a) }
        #expect(withOldKey?.code == .key, "\(String(describing: withOldKey))")
        // The rotation ended a segment with the old key's seal, which opening checks the new
        // segment's header against: the previous key is needed to open at all.
        let withoutPrevious = await #expect(throws: SignedLogError.self) { try await SignedLog.open(directory: logPath, signingKey: self.b) }
        #expect(withoutPrevious?.code == .key && withoutPrevious?.message.contains("previousPublicKeys") == true)
        let withPrevious = try await SignedLog.open(directory: logPath, signingKey: b, previousKeys: [a.verifyingKey])
        #expect(try await withPrevious.recoveryRecords().records.count == 2)
        await #expect(throws: SignedLogError.self) { try await withPrevious.rotateKey(to: self.b) }
        await withPrevious.close()
    }

    /// Whoever kept the retired key rewrites the log from before the rotation, leaves the
    /// rotation out and seals on with the old key: an auditor who gives both keys, in rotation
    /// order, is told the log never reached the last one.
    @Test func aLogRewrittenFromBeforeItsRotationFailsWithBothKeys() async throws {
        let log = try await SignedLog.open(directory: logPath, signingKey: a)
        try await append(["a1", "a2"], to: log)
        _ = try await log.rotateKey(to: b)
        try await append(["b1"], to: log)
        await log.close()
        #expect(throws: Never.self) { try LogAuditor(directory: logPath, keys: LogKeys([a.verifyingKey, b.verifyingKey])).verify() }

        let forgedPath = directory.subpath("forged")
        let forged = try await SignedLog.open(directory: forgedPath, signingKey: a)
        try await append(["a1", "a2", "b1", "more"], to: forged)
        await forged.close()
        let error = #expect(throws: SignedLogError.self) {
            try LogAuditor(directory: forgedPath, keys: LogKeys([a.verifyingKey, b.verifyingKey])).verify()
        }
        #expect(error?.message.contains("never reached the last key") == true, "\(String(describing: error))")
    }

    /// Two rotations to one key at once: the writer takes one and refuses the other, so the log
    /// never holds a rotation from a key to itself and opens again.
    @Test func concurrentRotationsToOneKeyWriteOnlyOne() async throws {
        let log = try await SignedLog.open(directory: logPath, signingKey: a)
        try await append(["a1"], to: log)
        let next = b
        let rotate: @Sendable () async -> Bool = { (try? await log.rotateKey(to: next)) != nil }
        async let first = rotate()
        async let second = rotate()
        let succeeded = await [first, second]
        #expect(succeeded.filter { $0 }.count == 1)
        #expect(log.verifyingKey.keyID == b.verifyingKey.keyID)
        try await append(["b1"], to: log)
        await log.close()
        let reopened = try await SignedLog.open(directory: logPath, signingKey: b, previousKeys: [a.verifyingKey])
        #expect(try await reopened.records(from: .first).count == 3)
        await reopened.close()
        #expect(try LogAuditor(directory: logPath, keys: LogKeys([a.verifyingKey, b.verifyingKey])).verify().recordCount == 3)
    }

    /// A forger holding only one of the two keys: the rotation record fails the audit and the
    /// open, whichever signature is missing; and `append` never writes a rotation at all.
    @Test(arguments: [true, false])
    func aRotationSignedByOnlyOneOfTheKeysIsRefused(forgedByOldKeyHolder: Bool) async throws {
        let log = try await SignedLog.open(directory: logPath, signingKey: a)
        try await append(["a1", "a2"], to: log)
        await #expect(throws: SignedLogError.self) { try await log.append(LogEntry(type: .keyRotation, payload: [])) }
        let last = try #require(try await log.records(from: .first).last)
        let stranger = try SigningKey.generate()
        let message = KeyRotation.signedMessage(
            lsn: 3, previousChainHash: last.chainHash, oldKeyDER: a.verifyingKey.derBytes, newKeyDER: b.verifyingKey.derBytes
        )
        let forged = KeyRotation(
            oldKeyDER: a.verifyingKey.derBytes, newKeyDER: b.verifyingKey.derBytes,
            oldKeySignature: try (forgedByOldKeyHolder ? a : stranger).sign(message),
            newKeySignature: try (forgedByOldKeyHolder ? stranger : b).sign(message)
        )
        _ = try await log.appendUnchecked([LogEntry(type: .keyRotation, payload: forged.encoded)])
        await log.close()
        let missing = forgedByOldKeyHolder ? "not signed by the new key" : "not signed by the old key"
        let audit = #expect(throws: SignedLogError.self) {
            try LogAuditor(directory: logPath, keys: LogKeys([a.verifyingKey, b.verifyingKey])).verify()
        }
        #expect(audit?.message.contains("key rotation at LSN 3 is \(missing)") == true, "\(String(describing: audit))")
        await #expect(throws: SignedLogError.self) {
            try await SignedLog.open(directory: logPath, signingKey: self.a, previousKeys: [self.b.verifyingKey])
        }
    }
}
