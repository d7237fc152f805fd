import Foundation
import Synchronization

/// One OS thread that runs a connection's blocking libpq calls, one job at a time, in order.
///
/// Why threads rather than libpq's non-blocking API: a connection serves one statement at a time
/// anyway, so a thread per connection costs one parked thread per pooled connection (the pool
/// bounds that number) and keeps every libpq call in its simple, documented blocking form —
/// including connection start-up, TLS negotiation and `COMMIT PREPARED` — where a readiness
/// loop would re-implement libpq's state machine for each. The thread is never one of Swift
/// concurrency's cooperative threads, so a slow query parks only this thread; callers `await` a
/// continuation that the thread resumes.
///
/// It is also a task executor: a task that prefers it (`PostgresConnection.withConnectionThread`)
/// runs on this thread, and its statements then call libpq at once instead of handing each one
/// over and back (`isCurrent`).
final class ConnectionThread: TaskExecutor, @unchecked Sendable {
    /// The running thread's pthread id: set before its first job, 0 before that and after it ends.
    private let threadID = Atomic<UInt>(0)
    /// Jobs handed to the thread, for tests that count hand-offs.
    let submissions = Atomic<Int>(0)

    // Guarded by `condition`.
    private let condition = NSCondition()
    private var jobs: [@Sendable () -> Void] = []
    private var nextJobIndex = 0
    private var isShutDown = false

    init(name: String) {
        let thread = Thread { [self] in self.runLoop() }
        thread.name = name
        // A task preferring this thread runs a service's action here, so the stack is a cooperative
        // thread's usual 8 MiB; only the pages touched are ever resident.
        thread.stackSize = 8 * 1024 * 1024
        thread.start()
    }

    /// Queues `job`; after `shutDown()` the job is dropped, so callers must not rely on it running then.
    /// Returns whether the job was accepted.
    @discardableResult
    func submit(_ job: @escaping @Sendable () -> Void) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !isShutDown else { return false }
        submissions.add(1, ordering: .relaxed)
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

    /// True on this connection's own thread, where blocking libpq calls are allowed. Never after
    /// the thread has ended: a later thread may be given the same id.
    var isCurrent: Bool {
        threadID.load(ordering: .acquiring) == Self.currentThreadID
    }

    private static var currentThreadID: UInt {
        #if canImport(Darwin)
            UInt(bitPattern: pthread_self())
        #else
            UInt(pthread_self())
        #endif
    }

    /// Runs a job of a task that prefers this thread. After `shutDown()` the task must still run:
    /// it goes to the global executor, where its statements hand over (and find the connection closed).
    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        if !submit({ job.runSynchronously(on: executor) }) {
            globalConcurrentExecutor.enqueue(job)
        }
    }

    private func runLoop() {
        threadID.store(Self.currentThreadID, ordering: .releasing)
        while let job = nextJob() {
            job()
        }
        threadID.store(0, ordering: .releasing)
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
