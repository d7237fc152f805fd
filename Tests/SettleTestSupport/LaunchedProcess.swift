import Foundation

/// One of Settle's executables started as a real process, ready once it printed its ready line.
public final class LaunchedProcess: @unchecked Sendable {
    public let process: Process
    /// The ready line it printed (for example "listening on 127.0.0.1:7001").
    public let readyLine: String
    public let errorLogPath: String

    /// - Parameter readyPrefix: the line to wait for; nil returns as soon as the process started.
    public init(_ product: String, _ arguments: [String], environment: [String: String] = [:], readyPrefix: String?) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try Products.path(product))
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let output = Pipe()
        process.standardOutput = output
        errorLogPath = NSTemporaryDirectory() + "settle-\(product)-\(UUID().uuidString).log"
        _ = FileManager.default.createFile(atPath: errorLogPath, contents: nil)
        process.standardError = FileHandle(forWritingAtPath: errorLogPath)
        try process.run()
        var line = Data()
        while let readyPrefix {
            let byte = output.fileHandleForReading.readData(ofLength: 1)
            if byte.isEmpty { break }
            if byte == Data("\n".utf8) {
                if String(decoding: line, as: UTF8.self).hasPrefix(readyPrefix) { break }
                line.removeAll()
                continue
            }
            line.append(byte)
        }
        let text = String(decoding: line, as: UTF8.self)
        guard text.hasPrefix(readyPrefix ?? "") else {
            process.waitUntilExit()
            let log = (try? String(contentsOfFile: errorLogPath, encoding: .utf8)) ?? ""
            throw LaunchFailure(description: "\(product) exited before '\(readyPrefix ?? "")': \(log.suffix(2000))")
        }
        self.process = process
        self.readyLine = text
        // Keep draining stdout so the child never blocks on a full pipe.
        let handle = output.fileHandleForReading
        Thread { while !handle.availableData.isEmpty {} }.start()
    }

    /// A process a test forgot is still never left behind.
    deinit {
        if process.isRunning {
            Foundation.kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    /// The integer after "key=" in the ready line, or after the last colon when key is nil.
    public func port(_ key: String? = nil) -> Int? {
        if let key {
            return readyLine.split(separator: " ").first { $0.hasPrefix(key + "=") }.flatMap { Int($0.dropFirst(key.count + 1)) }
        }
        return readyLine.split(separator: ":").last.flatMap { Int($0) }
    }

    public func kill() {
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    public func stop() {
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
    }

    /// Waits for the process to end by itself (for example at a crash point), at most `timeout`.
    public func waitForExit(timeout: Duration = .seconds(30)) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            if ContinuousClock.now > deadline { return false }
            try await Task.sleep(for: .milliseconds(20))
        }
        return true
    }

    public struct LaunchFailure: Error, CustomStringConvertible {
        public let description: String
    }
}
