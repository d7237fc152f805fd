import SignedLog
import SettleTestSupport
import Testing

@Suite("CRC-32C")
struct CRC32CTests {
    // RFC 3720 appendix B.4 and the common check value.
    @Test func knownVectors() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        #expect(CRC32C.checksum(Array(0...31 as ClosedRange<UInt8>)) == 0x46DD_794E)
        #expect(CRC32C.checksum([UInt8]()) == 0)
    }

    /// The sliced loop and the byte loop must agree at every length and alignment.
    @Test func incrementalMatchesOneShotAtEveryLength() {
        let data = (0..<300).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        for split in [0, 1, 3, 7, 8, 9, 64, 150, 299, 300] {
            var crc: UInt32 = 0
            CRC32C.update(&crc, data[..<split])
            CRC32C.update(&crc, data[split...])
            #expect(crc == CRC32C.checksum(data), "split at \(split)")
        }
        for length in 0..<40 {
            var crc: UInt32 = 0
            for byte in data.prefix(length) { CRC32C.update(&crc, [byte]) }
            #expect(crc == CRC32C.checksum(Array(data.prefix(length))), "length \(length)")
        }
    }
}
