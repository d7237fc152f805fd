import Foundation
import Testing

@Suite("README example")
struct ReadmeExampleTests {
    /// The README's embedding example is ReadmeExample.swift, which this target compiles.
    @Test func readmeShowsTheCompiledExample() throws {
        let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        let source = try String(contentsOf: here.appendingPathComponent("ReadmeExample.swift"), encoding: .utf8)
        let start = try #require(source.range(of: "// BEGIN README EXAMPLE\n"))
        let end = try #require(source.range(of: "// END README EXAMPLE"))
        let example = String(source[start.upperBound..<end.lowerBound])
        let readme = try String(
            contentsOf: here.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("README.md"),
            encoding: .utf8
        )
        #expect(readme.contains("```swift\n" + example + "```\n"), "README.md must show ReadmeExample.swift's example verbatim")
    }
}
