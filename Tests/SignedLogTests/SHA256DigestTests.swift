import SignedLog
import SettleTestSupport
import Testing

@Suite("OpenSSL links and hashes correctly")
struct SHA256DigestTests {
    // FIPS 180-2 appendix B test vectors.
    @Test func knownVectors() {
        #expect(
            SHA256Digest(hashing: Array("abc".utf8)).description
                == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        )
        #expect(
            SHA256Digest(hashing: [UInt8]()).description
                == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        )
    }

    @Test func incrementalEqualsOneShot() {
        let message = Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)
        var hasher = SHA256Hasher()
        hasher.update(message[..<10])
        hasher.update(message[10...])
        let digest = hasher.finalize()
        #expect(digest == SHA256Digest(hashing: message))
        #expect(digest.description == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }
}
