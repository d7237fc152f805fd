import Foundation
import Testing

import SignedLog

/// Signing and verifying reuse initialized OpenSSL contexts (`DigestContexts`): a reused context
/// must answer exactly as a fresh one, whatever came before it on that context.
@Suite("reused signing and verifying contexts")
struct ReusedContextTests {
    @Test func aReusedContextSignsAsAFreshOneAndVerifiesEveryAnswerRightly() throws {
        let key = try SigningKey.generate()
        let other = try SigningKey.generate()
        let message = Array("settle-order/v1 commit".utf8)
        let signature = try key.sign(message)
        // Ed25519 is deterministic: the same message signs to the same bytes on every context.
        for _ in 0..<5 { #expect(try key.sign(message) == signature) }
        var tampered = signature
        tampered[0] ^= 1
        // Alternating answers on the contexts the pool hands back.
        for _ in 0..<5 {
            #expect(key.verifyingKey.isValidSignature(signature, for: message))
            #expect(!key.verifyingKey.isValidSignature(tampered, for: message))
            #expect(!key.verifyingKey.isValidSignature(signature, for: message + [0]))
            #expect(!other.verifyingKey.isValidSignature(signature, for: message))
            #expect(other.verifyingKey.isValidSignature(try other.sign(message), for: message))
        }
    }

    @Test func manyThreadsSignAndVerifyAtOnce() async throws {
        let key = try SigningKey.generate()
        let wrong = try await withThrowingTaskGroup(of: Int.self) { group in
            for worker in 0..<8 {
                group.addTask {
                    var wrong = 0
                    for index in 0..<200 {
                        let message = Array("order \(worker)-\(index)".utf8)
                        var signature = try key.sign(message)
                        if !key.verifyingKey.isValidSignature(signature, for: message) { wrong += 1 }
                        signature[63] ^= 0x40
                        if key.verifyingKey.isValidSignature(signature, for: message) { wrong += 1 }
                    }
                    return wrong
                }
            }
            return try await group.reduce(0, +)
        }
        #expect(wrong == 0)
    }
}
