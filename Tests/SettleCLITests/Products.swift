import Foundation
import Testing

/// Runs Settle's executables as built beside this test bundle (`swift build --build-tests`
/// builds them; `tools/test` does that first).
enum Products {
    static func path(_ name: String) throws -> String {
        let testBinary = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var directory = testBinary.deletingLastPathComponent()
        // On macOS the runner lives inside the .xctest bundle; on Linux beside the products.
        while !directory.path.isEmpty && directory.path != "/" {
            let candidate = directory.appendingPathComponent(name).path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            directory.deleteLastPathComponent()
        }
        throw ProductMissing(name: name)
    }

    struct ProductMissing: Error, CustomStringConvertible {
        let name: String
        var description: String { "\(name) is not built; run `swift build --build-tests` (tools/test does)" }
    }
}

struct Finished {
    let status: Int32
    let output: String
    let errorOutput: String
}

/// Runs a product to completion and returns its exit status and output.
func run(_ product: String, _ arguments: [String]) throws -> Finished {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: try Products.path(product))
    process.arguments = arguments
    let output = Pipe()
    let errorOutput = Pipe()
    process.standardOutput = output
    process.standardError = errorOutput
    try process.run()
    // Read both pipes concurrently so neither fills and stalls the child.
    let errorData = Shared<Data>(Data())
    let errorReader = Thread { errorData.value = errorOutput.fileHandleForReading.readDataToEndOfFile() }
    errorReader.start()
    let outputData = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    while !errorReader.isFinished { usleep(1000) }
    return Finished(
        status: process.terminationStatus, output: String(decoding: outputData, as: UTF8.self),
        errorOutput: String(decoding: errorData.value, as: UTF8.self)
    )
}

final class Shared<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value
    init(_ value: Value) { stored = value }
    var value: Value {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}
