import Foundation
import Testing

/// Runs Settle's executables as built beside this test bundle (`swift build --build-tests`
/// builds them; `tools/test` does that first).
public enum Products {
    public static func path(_ name: String) throws -> String {
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

    public struct ProductMissing: Error, CustomStringConvertible {
        let name: String
        public var description: String { "\(name) is not built; run `swift build --build-tests` (tools/test does)" }
    }
}

public struct Finished: Sendable {
    public let status: Int32
    public let output: String
    public let errorOutput: String
}

/// Runs a product to completion and returns its exit status and output. One that has not exited
/// within `timeout` is killed (its status then says so), so a hung command fails its test.
public func run(_ product: String, _ arguments: [String], timeout: Duration = .seconds(120)) throws -> Finished {
    try runExecutable(at: try Products.path(product), arguments, timeout: timeout)
}

/// Runs any executable (an independent verifier, a system tool) as `run` runs a product.
public func runExecutable(at path: String, _ arguments: [String], timeout: Duration = .seconds(120)) throws -> Finished {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    let output = Pipe()
    let errorOutput = Pipe()
    process.standardOutput = output
    process.standardError = errorOutput
    try process.run()
    let pid = process.processIdentifier
    let watchdog = DispatchWorkItem { Foundation.kill(pid, SIGKILL) }
    DispatchQueue.global().asyncAfter(deadline: .now() + .seconds(Int(timeout.components.seconds)), execute: watchdog)
    defer { watchdog.cancel() }
    // Read both pipes concurrently so neither fills and stalls the child.
    let errorData = Shared<Data>(Data())
    let errorReader = Thread {
        let data = errorOutput.fileHandleForReading.readDataToEndOfFile()
        errorData.value.withLock { $0 = data }
    }
    errorReader.start()
    let outputData = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    while !errorReader.isFinished { usleep(1000) }
    return Finished(
        status: process.terminationStatus, output: String(decoding: outputData, as: UTF8.self),
        errorOutput: String(decoding: errorData.value.withLock { $0 }, as: UTF8.self)
    )
}
