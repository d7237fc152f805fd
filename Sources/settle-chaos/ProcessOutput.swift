import Foundation

/// A command run to completion on a thread of its own (waiting for a process blocks).
struct ProcessOutput: Sendable {
    let status: Int32
    let output: String
    let errorOutput: String

    static func run(_ executable: String, _ arguments: [String]) async throws -> ProcessOutput {
        try await withCheckedThrowingContinuation { continuation in
            Thread {
                continuation.resume(
                    with: Result {
                        let process = Process()
                        process.executableURL = URL(fileURLWithPath: executable)
                        process.arguments = arguments
                        let output = Pipe()
                        let errorFile = FileManager.default.temporaryDirectory.appendingPathComponent("settle-chaos-\(UUID().uuidString)")
                        _ = FileManager.default.createFile(atPath: errorFile.path, contents: nil)
                        defer { try? FileManager.default.removeItem(at: errorFile) }
                        process.standardOutput = output
                        process.standardError = try FileHandle(forWritingTo: errorFile)
                        try process.run()
                        let data = output.fileHandleForReading.readDataToEndOfFile()
                        process.waitUntilExit()
                        return ProcessOutput(
                            status: process.terminationStatus, output: String(decoding: data, as: UTF8.self),
                            errorOutput: (try? String(contentsOf: errorFile, encoding: .utf8)) ?? ""
                        )
                    }
                )
            }.start()
        }
    }
}
