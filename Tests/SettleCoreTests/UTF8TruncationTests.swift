import SettleCore
import Testing

@Suite("bounded text: at most N bytes of UTF-8, never half a character")
struct UTF8TruncationTests {
    @Test func shortTextIsUnchanged() {
        #expect("refused".truncated(toUTF8Bytes: 7) == "refused")
    }

    @Test func longTextIsCutAtAScalarBoundary() {
        // "é" is two bytes: a cut after 4 bytes would split the third one.
        #expect("ééé".truncated(toUTF8Bytes: 5) == "éé")
        #expect("ééé".truncated(toUTF8Bytes: 5).utf8.count == 4)
        #expect(String(repeating: "x", count: 2000).truncated(toUTF8Bytes: 1024).utf8.count == 1024)
        #expect("abc".truncated(toUTF8Bytes: 0) == "")
    }
}
