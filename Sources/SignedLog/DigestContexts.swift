internal import COpenSSL
import Synchronization

/// Ed25519 contexts of one key, initialized once and reused. OpenSSL 3's `EVP_DigestSignInit`
/// and `EVP_DigestVerifyInit` fetch the algorithm from the provider and set the key up on every
/// call: `settle-bench signing` here, with a fresh context per call and with reused ones, sign
/// 36 → 32 µs and verify 99 → 84 µs. EdDSA's one-shot `EVP_DigestSign` and
/// `EVP_DigestVerify` may be called again on the same context, as `openssl speed` does.
///
/// A context serves one caller at a time: callers take one from the idle list (or make one) and
/// give it back. One that failed is freed rather than reused, and the operation is tried once more
/// on a fresh context, so an OpenSSL that refuses reuse costs a second try, never a wrong answer.
final class DigestContexts: @unchecked Sendable {
    enum Purpose { case sign, verify }

    private let key: OpaquePointer  // EVP_PKEY *, owned by the key object that owns this
    private let purpose: Purpose
    private let idle = Mutex<[UInt]>([])  // EVP_MD_CTX * as bits: Mutex holds only Sendable values
    /// Contexts kept idle at most: about the threads that sign or verify at once.
    static let idleMax = 32

    init(key: OpaquePointer, purpose: Purpose) {
        self.key = key
        self.purpose = purpose
    }

    deinit {
        for bits in idle.withLock({ $0 }) { EVP_MD_CTX_free(OpaquePointer(bitPattern: bits)) }
    }

    /// Runs `operation` on a ready context: true when it succeeded. A reused context that fails
    /// is replaced by a fresh one for a second try.
    func perform(_ operation: (OpaquePointer) -> Bool) -> Bool {
        if let reused = idle.withLock({ $0.popLast() }).flatMap({ OpaquePointer(bitPattern: $0) }) {
            if operation(reused) {
                giveBack(reused)
                return true
            }
            EVP_MD_CTX_free(reused)
        }
        guard let fresh = makeContext() else { return false }
        guard operation(fresh) else {
            EVP_MD_CTX_free(fresh)
            return false
        }
        giveBack(fresh)
        return true
    }

    private func makeContext() -> OpaquePointer? {
        guard let context = EVP_MD_CTX_new() else { return nil }
        let ready =
            switch purpose {
            case .sign: EVP_DigestSignInit(context, nil, nil, nil, key) == 1
            case .verify: EVP_DigestVerifyInit(context, nil, nil, nil, key) == 1
            }
        guard ready else {
            EVP_MD_CTX_free(context)
            return nil
        }
        return context
    }

    private func giveBack(_ context: OpaquePointer) {
        let kept = idle.withLock { idle in
            guard idle.count < Self.idleMax else { return false }
            idle.append(UInt(bitPattern: context))
            return true
        }
        if !kept { EVP_MD_CTX_free(context) }
    }
}
