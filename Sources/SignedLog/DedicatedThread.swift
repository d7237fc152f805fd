import Foundation

/// Runs blocking file work on a thread of its own and awaits the result, so opening, reading and
/// closing the log never block one of Swift concurrency's cooperative threads.
func onDedicatedThread<Value: Sendable>(
    named name: String, _ body: @escaping @Sendable () throws -> Value
) async throws -> Value {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread {
            continuation.resume(with: Result { try body() })
        }
        thread.name = name
        thread.start()
    }
}
