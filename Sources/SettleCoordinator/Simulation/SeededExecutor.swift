import SettleSimulation
import Synchronization

/// The simulator's only thread of execution: every task of a simulated coordinator prefers this
/// executor, which holds their jobs until the simulation loop runs one, chosen by its seeded
/// generator. Which ready job runs next is therefore the seed's choice (that is how concurrent
/// steps are reordered), and a seed replays exactly, because nothing else runs the jobs.
final class SeededExecutor: TaskExecutor, Sendable {
    private let jobs = Mutex<[UnownedJob]>([])

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        jobs.withLock { $0.append(job) }
    }

    var readyCount: Int { jobs.withLock { $0.count } }

    /// Runs one ready job, picked by `random`; false when none is ready.
    func runOne(using random: inout SeededRandom) -> Bool {
        let count = readyCount
        guard count > 0 else { return false }
        let index = Int.random(in: 0..<count, using: &random)
        let job = jobs.withLock { $0.remove(at: index) }
        job.runSynchronously(on: asUnownedTaskExecutor())
        return true
    }
}
