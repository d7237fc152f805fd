import Foundation
import SettleCore
import SettleSimulation

/// One coordinator incarnation's way to its participants through the simulated network. A
/// request leaves only while the incarnation is alive; once sent it arrives, after a delay, even
/// if the incarnation crashes meanwhile (as a packet already on the wire would), and its answer
/// then goes nowhere. A request or an answer may be lost (the call fails as a timeout would) or
/// the request delivered twice. Like a participant checking a signed order, each request must
/// name a sealed record that orders it: the transfer's ACCEPTED (of the gid's admission) for a
/// Prepare, COMMIT or SAGA for a Commit, ABORT or COMPENSATE for a Rollback, COMPENSATE for a
/// compensation; anything else is a violation.
struct SimulatedParticipantCalls: ParticipantCalling {
    let world: SimulatedWorld
    let epoch: Int

    func prepare(
        _ participant: String, gid: String, action: String, payload: Data, acceptedLSN: UInt64, timeout: Duration?
    ) async throws -> PrepareAnswer {
        let key = try await send(gid, .prepare, orderedBy: acceptedLSN) { _ = $0.prepare($1) }
        var outcome = world.shared.withLock { $0.participants.prepare(key) }
        if case .waits = outcome {
            // The participant's lock timeout: the prepare gives up waiting for the row.
            await world.clock.sleepIgnoringCancellation(for: .milliseconds(world.options.lockTimeoutMilliseconds))
            outcome = world.shared.withLock { $0.participants.prepare(key) }
        }
        guard case .answered(let answer) = outcome else {
            throw ParticipantCallError(isTransient: true, reached: true, message: "lock timeout")
        }
        if answer == .prepared { scheduleHandRollback(key) }
        let slow = world.shared.withLock { $0.participants.behaviours[key]?.slowPrepareMilliseconds ?? 0 }
        if slow > 0 { await world.clock.sleepIgnoringCancellation(for: .milliseconds(slow)) }
        try await answerBack()
        return answer
    }

    func commit(_ participant: String, gid: String, decisionLSN: UInt64) async throws -> CommitAnswer {
        let key = try await send(gid, .commit, orderedBy: decisionLSN) { _ = $0.commit($1) }
        let answer = world.shared.withLock { $0.participants.commit(key) }
        try await answerBack()
        return answer
    }

    func rollback(_ participant: String, gid: String, decisionLSN: UInt64) async throws -> RollbackAnswer {
        let key = try await send(gid, .rollback, orderedBy: decisionLSN) { _ = $0.rollback($1) }
        let answer = world.shared.withLock { $0.participants.rollback(key) }
        try await answerBack()
        return answer
    }

    func compensate(
        _ participant: String, gid: String, compensation: String, payload: Data, decisionLSN: UInt64
    ) async throws -> TransferDriver.Attempt<CompensateAnswer> {
        let key = try await send(gid, .compensate, orderedBy: decisionLSN) { _ = $0.compensate($1) }
        let answer = world.shared.withLock { $0.participants.compensate(key) }
        try await answerBack()
        return answer.map { .answered($0) } ?? .failed("the compensation failed")
    }

    /// The request's way there: refused at once from a dead incarnation, checked against the log
    /// as a signed order is, then delayed, perhaps lost; a duplicate is performed again later
    /// (`again`), which the barrier's rules must make harmless.
    private func send(
        _ gid: String, _ command: SimulatedWorld.Command, orderedBy lsn: UInt64,
        again: @escaping @Sendable (inout SimulatedParticipants, BranchKey) -> Void
    ) async throws -> BranchKey {
        guard world.isCurrent(epoch) else { throw CancellationError() }
        guard let parsed = try? BranchGID(parsing: gid), let transfer = world.index(of: parsed.transferID) else {
            world.violation("a request for a gid no transfer has: \(gid)")
            throw ParticipantCallError(isTransient: false, reached: true, message: "unknown gid \(gid)")
        }
        world.checkOrder(command, gid: parsed, lsn: lsn)
        let key = BranchKey(transfer: transfer, branch: parsed.branchIndex)
        await world.clock.sleepIgnoringCancellation(for: world.randomMilliseconds(0...20))
        if world.chance(world.options.dropPercent) { throw lost("request") }
        if world.chance(world.options.transientPercent) {
            throw ParticipantCallError(isTransient: true, reached: true, message: "the participant is overloaded")
        }
        if world.chance(world.options.duplicatePercent) { deliverAgain(key, again) }
        return key
    }

    /// A copy of the request arriving later, on its own.
    private func deliverAgain(_ key: BranchKey, _ again: @escaping @Sendable (inout SimulatedParticipants, BranchKey) -> Void) {
        let world = world
        Task(executorPreference: world.executor) {
            await world.clock.sleepIgnoringCancellation(for: world.randomMilliseconds(1...50))
            world.shared.withLock { again(&$0.participants, key) }
        }
    }

    private func answerBack() async throws {
        await world.clock.sleepIgnoringCancellation(for: world.randomMilliseconds(0...20))
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
            await world.clock.sleepIgnoringCancellation(for: world.randomMilliseconds(1...300))
            world.shared.withLock { $0.participants.rollBackByHand(key) }
        }
    }
}

extension SimulatedWorld {
    enum Command: String, Sendable { case prepare, commit, rollback, compensate }

    /// What a participant verifying the command's signed order would insist on: the LSN names a
    /// sealed record of this transfer that orders this command, and a Prepare's ACCEPTED is of the
    /// gid's admission (a gid of an admission the log never sealed must never be sent).
    func checkOrder(_ command: Command, gid: BranchGID, lsn: UInt64) {
        let record = log.sealedRecords.first { $0.lsn.rawValue == lsn }.flatMap { try? CoordinatorRecord($0) }
        let allowed: Bool
        switch (command, record) {
        case (.prepare, .accepted(let spec, let admission, _, _)?): allowed = spec.id == gid.transferID && admission == gid.admission
        case (.commit, .commit(let id)?), (.commit, .saga(let id, _)?): allowed = id == gid.transferID
        case (.rollback, .abort(let id, _)?), (.rollback, .compensate(let id, _)?), (.compensate, .compensate(let id, _)?):
            allowed = id == gid.transferID
        default: allowed = false
        }
        if !allowed {
            violation("\(command.rawValue) of \(gid) names LSN \(lsn), which is \(record.map { "\($0.kind)" } ?? "not a sealed record")")
        }
    }
}
