import Foundation

/// One OS thread that runs a connection's blocking libpq calls, one job at a time, in order.
///
/// Why threads rather than libpq's non-blocking API: a connection serves one statement at a time
/// anyway, so a thread per connection costs one parked thread per pooled connection (the pool
/// bounds that number) and keeps every libpq call in its simple, documented blocking form —
/// including connection start-up, TLS negotiation and `COMMIT PREPARED` — where a readiness
/// loop would re-implement libpq's state machine for each. The thread is never one of Swift
/// concurrency's cooperative threads, so a slow query parks only this thread; callers `await` a
/// continuation that the thread resumes.
final class ConnectionThread: @unchecked Sendable {
    // Guarded by `condition`.
    private let condition = NSCondition()
    private var jobs: [@Sendable () -> Void] = []
    private var nextJobIndex = 0
    private var isShutDown = false

    init(name: String) {
        let thread = Thread { [self] in self.runLoop() }
        thread.name = name
        // libpq needs little stack; keep many pooled connections cheap.
        thread.stackSize = 512 * 1024
        thread.start()
    }

    /// Queues `job`; after `shutDown()` the job is dropped, so callers must not rely on it running then.
    /// Returns whether the job was accepted.
    @discardableResult
    func submit(_ job: @escaping @Sendable () -> Void) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !isShutDown else { return false }
        jobs.append(job)
        condition.signal()
        return true
    }

    /// Lets queued jobs finish, then ends the thread.
    func shutDown() {
        condition.lock()
        isShutDown = true
        condition.signal()
        condition.unlock()
    }

    private func runLoop() {
        while let job = nextJob() {
            job()
        }
    }

    private func nextJob() -> (@Sendable () -> Void)? {
        condition.lock()
        defer { condition.unlock() }
        while nextJobIndex == jobs.count {
            if isShutDown { return nil }
            condition.wait()
        }
        let job = jobs[nextJobIndex]
        nextJobIndex += 1
        if nextJobIndex == jobs.count {
            jobs.removeAll(keepingCapacity: true)
            nextJobIndex = 0
        }
        return job
    }
}
