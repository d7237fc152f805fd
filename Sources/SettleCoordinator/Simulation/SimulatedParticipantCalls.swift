import Foundation
import SettleCore
import SettleSimulation

/// One coordinator incarnation's way to its participants through the simulated network. A
/// request leaves only while the incarnation is alive; once sent it arrives, after a delay, even
/// if the incarnation crashes meanwhile (as a packet already on the wire would), and its answer
/// then goes nowhere. A request or an answer may be lost (the call fails as a timeout would) or
/// the request delivered twice.
struct SimulatedParticipantCalls: ParticipantCalling {
    let world: SimulatedWorld
    let epoch: Int

    func prepare(
        _ participant: String, gid: String, action: String, payload: Data, acceptedLSN: UInt64, timeout: Duration?
    ) async throws -> PrepareAnswer {
        let key = try await send(gid)
        var outcome = world.shared.withLock { $0.participants.prepare(key) }
        if case .waits = outcome {
            // The participant's lock timeout: the prepare gives up waiting for the row.
            await world.clock.sleepIgnoringCancellation(until: world.clock.now + .milliseconds(world.options.lockTimeoutMilliseconds))
            outcome = world.shared.withLock { $0.participants.prepare(key) }
        }
        guard case .answered(let answer) = outcome else {
            throw ParticipantCallError(isTransient: true, reached: true, message: "lock timeout")
        }
        if answer == .prepared { scheduleHandRollback(key) }
        let slow = world.shared.withLock { $0.participants.behaviours[key]?.slowPrepareMilliseconds ?? 0 }
        if slow > 0 { await world.clock.sleepIgnoringCancellation(until: world.clock.now + .milliseconds(slow)) }
        try await answerBack()
        return answer
    }

    func commit(_ participant: String, gid: String, decisionLSN: UInt64) async throws -> CommitAnswer {
        let key = try await send(gid)
        let answer = world.shared.withLock { $0.participants.commit(key) }
        try await answerBack()
        return answer
    }

    func rollback(_ participant: String, gid: String, decisionLSN: UInt64) async throws -> RollbackAnswer {
        let key = try await send(gid)
        let answer = world.shared.withLock { $0.participants.rollback(key) }
        try await answerBack()
        return answer
    }

    func compensate(
        _ participant: String, gid: String, compensation: String, payload: Data, decisionLSN: UInt64
    ) async throws -> TransferDriver.Attempt<CompensateAnswer> {
        let key = try await send(gid)
        let answer = world.shared.withLock { $0.participants.compensate(key) }
        try await answerBack()
        return answer.map { .answered($0) } ?? .failed("the compensation failed")
    }

    /// The request's way there: refused at once from a dead incarnation, then delayed, perhaps
    /// lost; a duplicate is delivered too (the command's effect is applied twice, which the
    /// barrier's rules must make harmless).
    private func send(_ gid: String) async throws -> BranchKey {
        guard world.isCurrent(epoch) else { throw CancellationError() }
        guard let parsed = try? BranchGID(parsing: gid), let transfer = world.index(of: parsed.transferID) else {
            throw ParticipantCallError(isTransient: false, reached: true, message: "unknown gid \(gid)")
        }
        let key = BranchKey(transfer: transfer, branch: parsed.branchIndex)
        await world.clock.sleepIgnoringCancellation(until: world.clock.now + world.randomMilliseconds(0...20))
        if world.chance(world.options.dropPercent) { throw lost("request") }
        if world.chance(world.options.transientPercent) {
            throw ParticipantCallError(isTransient: true, reached: true, message: "the participant is overloaded")
        }
        if world.chance(world.options.duplicatePercent) { duplicate(key) }
        return key
    }

    /// A copy of the request arriving later, on its own.
    private func duplicate(_ key: BranchKey) {
        let world = world
        Task(executorPreference: world.executor) {
            await world.clock.sleepIgnoringCancellation(until: world.clock.now + world.randomMilliseconds(1...50))
            world.shared.withLock { shared in
                // Which command it copies does not matter to the barrier's rules: every one is
                // idempotent; a late prepare is the one that tests them.
                _ = shared.participants.prepare(key)
            }
        }
    }

    private func answerBack() async throws {
        await world.clock.sleepIgnoringCancellation(until: world.clock.now + world.randomMilliseconds(0...20))
        if world.chance(world.options.dropPercent) { throw lost("answer") }
        guard world.isCurrent(epoch) else { throw CancellationError() }
    }

    private func lost(_ what: String) -> ParticipantCallError {
        ParticipantCallError(isTransient: true, reached: false, message: "the \(what) was lost")
    }

    /// A DBA runs ROLLBACK PREPARED on the branch some time after it is prepared.
    private func scheduleHandRollback(_ key: BranchKey) {
        guard world.shared.withLock({ $0.participants.behaviours[key]?.rolledBackByHand == true }) else { return }
        let world = world
        Task(executorPreference: world.executor) {
            await world.clock.sleepIgnoringCancellation(until: world.clock.now + world.randomMilliseconds(1...300))
            world.shared.withLock { $0.participants.rollBackByHand(key) }
        }
    }
}
