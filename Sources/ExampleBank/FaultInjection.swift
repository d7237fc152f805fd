/// FAULT INJECTION, for tests and demos only; off unless asked for. Slows or breaks named
/// actions and compensations so that timeouts, saga fallback and stuck compensations can be
/// exercised against a real service.
public struct FaultInjection: Sendable {
    /// Sleep this long inside the named operation's transaction (holding its locks), before its SQL.
    public var delays: [String: Duration] = [:]
    /// Fail the named operation with an error that is not a refusal.
    public var failures: Set<String> = []

    public init(delays: [String: Duration] = [:], failures: Set<String> = []) {
        self.delays = delays
        self.failures = failures
    }

    public static let none = FaultInjection()

    func apply(to operation: String) async throws {
        if let delay = delays[operation] { try await Task.sleep(for: delay) }
        if failures.contains(operation) { throw InjectedFault(operation: operation) }
    }
}

public struct InjectedFault: Error, CustomStringConvertible {
    public let operation: String
    public var description: String { "injected fault in '\(operation)' (fault injection is on)" }
}
