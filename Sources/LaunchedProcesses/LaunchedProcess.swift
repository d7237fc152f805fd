import Foundation

/// One of Settle's executables started as a real process, ready once it printed its ready line.
/// Shared by the tests and tools/chaos, which both run settled and example-bank as real processes
/// so that SIGKILL means what it means in production.
public final class LaunchedProcess: @unchecked Sendable {
    public let process: Process
    /// The ready line it printed (for example "listening on 127.0.0.1:7001").
    public let readyLine: String
    public let errorLogPath: String
    private let laterLines = LineBuffer()

    /// How long a process may take to print its ready line before it is killed and its launch
    /// fails: a hung start must fail a test, not stall the suite.
    public static let readyTimeout = Duration.seconds(120)

    /// - Parameters:
    ///   - readyPrefix: the line to wait for; nil returns as soon as the process started.
    ///   - errorLogPath: where its standard error goes; a new temporary file when nil.
    public init(
        executable: String, _ arguments: [String], environment: [String: String] = [:], readyPrefix: String?,
        errorLogPath: String? = nil
    ) throws {
        let product = URL(fileURLWithPath: executable).lastPathComponent
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let output = Pipe()
        process.standardOutput = output
        let errorLogPath = errorLogPath ?? NSTemporaryDirectory() + "settle-\(product)-\(UUID().uuidString).log"
        self.errorLogPath = errorLogPath
        if !FileManager.default.fileExists(atPath: errorLogPath) {
            _ = FileManager.default.createFile(atPath: errorLogPath, contents: nil)
        }
        let errorLog = FileHandle(forWritingAtPath: errorLogPath)
        errorLog?.seekToEndOfFile()
        process.standardError = errorLog
        try process.run()
        let isReady = ReadyFlag()
        let pid = process.processIdentifier
        DispatchQueue.global().asyncAfter(deadline: .now() + .seconds(Int(Self.readyTimeout.components.seconds))) {
            if !isReady.isSet { Foundation.kill(pid, SIGKILL) }
        }
        defer { isReady.set() }
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
            throw LaunchFailure(
                description: "\(product) exited before '\(readyPrefix ?? "")' (or printed nothing within \(Self.readyTimeout) and was "
                    + "killed): \(log.suffix(2000))"
            )
        }
        self.process = process
        self.readyLine = text
        // Keep draining stdout so the child never blocks on a full pipe, keeping its last lines.
        let handle = output.fileHandleForReading
        let laterLines = self.laterLines
        Thread {
            var pending = Data()
            while case let chunk = handle.availableData, !chunk.isEmpty {
                pending.append(chunk)
                while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                    laterLines.append(String(decoding: pending[pending.startIndex..<newline], as: UTF8.self))
                    pending.removeSubrange(pending.startIndex...newline)
                }
            }
        }.start()
    }

    /// Waits for a line starting with `prefix` printed after the ready line (a standby's "settled
    /// ready" once it took over); nil if none came within `timeout` (a zero timeout looks once).
    public func line(startingWith prefix: String, timeout: Duration) async throws -> String? {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let line = laterLines.first(startingWith: prefix) { return line }
            if ContinuousClock.now >= deadline { return nil }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Starts it on a thread of its own: waiting for the ready line blocks on a pipe, which must
    /// never happen on one of Swift concurrency's cooperative threads.
    public static func launch(
        executable: String, _ arguments: [String], environment: [String: String] = [:], readyPrefix: String?,
        errorLogPath: String? = nil
    ) async throws -> LaunchedProcess {
        try await withCheckedThrowingContinuation { continuation in
            Thread {
                continuation.resume(
                    with: Result {
                        try LaunchedProcess(
                            executable: executable, arguments, environment: environment, readyPrefix: readyPrefix,
                            errorLogPath: errorLogPath
                        )
                    }
                )
            }.start()
        }
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

    public var isRunning: Bool { process.isRunning }

    /// The exit status once the process has ended; nil while it runs.
    public var exitStatus: Int32? { process.isRunning ? nil : process.terminationStatus }

    /// Sends `signal` without waiting (pair with `waitForExit`, which does not block a thread).
    public func send(_ signal: Int32) {
        Foundation.kill(process.processIdentifier, signal)
    }

    public func kill() {
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// SIGTERM, then SIGCONT: a process a test stopped (SIGSTOP) must still get to exit.
    public func stop() {
        if process.isRunning {
            process.terminate()
            Foundation.kill(process.processIdentifier, SIGCONT)
        }
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

    /// A loopback port nobody listens on now (bound, read, closed), for a process that must
    /// listen on a port known before it starts (a standby's API, which clients are given).
    public static func unusedLoopbackPort() throws -> Int {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        guard bound == 0, named == 0 else { throw LaunchFailure(description: "cannot find an unused loopback port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    public struct LaunchFailure: Error, CustomStringConvertible {
        public let description: String
    }
}

/// Set once the ready line arrived; the launch watchdog kills the process only if it was not.
private final class ReadyFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false

    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}

/// The last lines a process printed after its ready line, for `line(startingWith:timeout:)`.
private final class LineBuffer: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []

    func append(_ line: String) {
        lock.withLock {
            lines.append(line)
            if lines.count > 1000 { lines.removeFirst(lines.count - 1000) }
        }
    }

    func first(startingWith prefix: String) -> String? { lock.withLock { lines.first { $0.hasPrefix(prefix) } } }
}
