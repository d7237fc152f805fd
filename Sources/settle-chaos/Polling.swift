/// The storm's two ways of waiting on something it does not control.
enum Polling {
    /// Returns once `condition` holds (checked every 100 ms), after `atMost`, or when cancelled:
    /// a storm that waits for its faults reports what never happened rather than hanging on it.
    static func until(atMost: Duration, _ condition: () -> Bool) async {
        let deadline = ContinuousClock.now + atMost
        while !Task.isCancelled, ContinuousClock.now < deadline {
            if condition() { return }
            try? await Task.sleep(for: .milliseconds(100))
        }
    }

    /// Tries `start` up to 50 times, 200 ms apart: a restart right after a kill can race the old
    /// process's socket.
    static func retryingStart(_ start: () async throws -> Void) async {
        for _ in 0..<50 {
            if (try? await start()) != nil { return }
            try? await Task.sleep(for: .milliseconds(200))
        }
    }
}
