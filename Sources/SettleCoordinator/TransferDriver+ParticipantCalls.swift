import SettleCore

/// The driver's calls to participants: each retries as the protocol allows (a Prepare until its
/// deadline, phase two until answered, a compensation up to its attempts), each call bounded, and
/// every answer a participant gives is cut to size before it can reach a sealed record.
extension TransferDriver {
    func gid(_ start: DriverStart, _ branch: Int) -> String {
        start.spec.gid(ofBranch: branch, coordinatorID: coordinatorID, admission: start.admission)
    }

    /// Prepares one branch, retrying transient failures until `deadline` (nil: until answered).
    /// Nil when the deadline passed first; a permanent failure is a refusal naming it.
    func prepare(_ start: DriverStart, branch: Int, until deadline: Duration?) async -> PrepareAnswer? {
        let target = start.spec.branches[branch]
        let gid = gid(start, branch)
        var attempt = 0
        while !Task.isCancelled {
            // A re-drive (no deadline) may legitimately wait on row locks for longer than a
            // phase-two call; the saga deadline bounds it, and the link's keepalive notices a
            // participant that stopped answering altogether.
            var timeout: Duration?
            if let deadline {
                let remaining = deadline - clock.now
                guard remaining > .zero else { return nil }
                timeout = remaining
            }
            do {
                let answer = try await participants.prepare(
                    target.participant, gid: gid, action: target.action, payload: target.payload, acceptedLSN: start.acceptedLSN ?? 0,
                    timeout: timeout
                )
                metrics.reachable(target.participant, true)
                switch answer {
                case .prepared where crashPoints.refusesEveryPrepare:
                    return .refused(reason: "deliberately broken build (SETTLE_BREAK=refuse-every-prepare)")
                case .prepared: return .prepared
                case .refused(let reason): return .refused(reason: Self.bounded(reason))
                }
            } catch let error as ParticipantCallError where !error.isTransient {
                return .refused(reason: Self.bounded("\(target.participant) failed: \(error.message)"))
            } catch let error as ParticipantCallError {
                metrics.reachable(target.participant, error.reached)
            } catch {
                // Not the participant's answer: retried like any transient failure.
            }
            metrics.retried("prepare", participant: target.participant)
            try? await clock.sleep(for: retry.delay(afterAttempt: attempt, jitter: clock.jitter))
            attempt += 1
        }
        return nil
    }

    func commit(_ start: DriverStart, branch: Int, decisionLSN: UInt64) async -> CommitAnswer? {
        let result: Retried<CommitAnswer> = await retrying("commit", start, branch) { participant, gid in
            .answered(try await participants.commit(participant, gid: gid, decisionLSN: decisionLSN))
        }
        return result.answer
    }

    func rollback(_ start: DriverStart, branch: Int, decisionLSN: UInt64) async -> RollbackAnswer? {
        let result: Retried<RollbackAnswer> = await retrying("rollback", start, branch) { participant, gid in
            .answered(try await participants.rollback(participant, gid: gid, decisionLSN: decisionLSN))
        }
        return result.answer
    }

    /// Runs a branch's compensation, retrying refusals and failures with backoff up to the
    /// transfer's attempts; then the transfer is stuck and an operator decides.
    func compensate(_ start: DriverStart, branch: Int, decisionLSN: UInt64) async -> Retried<CompensateAnswer> {
        let target = start.spec.branches[branch]
        let payload = target.compensationPayload.isEmpty ? target.payload : target.compensationPayload
        let attempts = start.spec.policy.compensationRetriesMax.map(Int.init) ?? compensationRetriesMax
        return await retrying("compensate", start, branch, attemptsMax: max(1, attempts)) { participant, gid in
            try await participants.compensate(
                participant, gid: gid, compensation: target.compensation, payload: payload, decisionLSN: decisionLSN
            )
        }
    }

    /// One attempt's result: an answer the protocol takes, or a failure worth retrying.
    enum Attempt<Answer: Sendable>: Sendable {
        case answered(Answer)
        case failed(String)
    }

    enum Retried<Answer: Sendable>: Sendable {
        case answered(Answer)
        /// `attemptsMax` attempts failed; the last failure's reason.
        case gaveUp(String)
        /// Shutting down: recovery finishes the job.
        case cancelled

        var answer: Answer? {
            if case .answered(let answer) = self { return answer }
            return nil
        }
    }

    /// The one retry loop of phase two and compensation: capped exponential backoff between
    /// attempts, each call bounded. Without `attemptsMax` it never gives up (phase two: the
    /// decision is sealed, so the only way forward is through).
    func retrying<Answer: Sendable>(
        _ operation: String, _ start: DriverStart, _ branch: Int, attemptsMax: Int? = nil,
        _ call: (_ participant: String, _ gid: String) async throws -> Attempt<Answer>
    ) async -> Retried<Answer> {
        let participant = start.spec.branches[branch].participant
        let gid = gid(start, branch)
        var lastReason = "no answer"
        var attempt = 0
        defer {
            // However it ends (answered, given up, shutting down), nothing waits to retry now.
            if attempt > 0 {
                registry.updateLive(start.spec.id) { $0.retries[branch] = nil }
                nudges.forget(start.spec.id)
            }
        }
        while attemptsMax.map({ attempt < $0 }) ?? true {
            do {
                switch try await call(participant, gid) {
                case .answered(let answer):
                    metrics.reachable(participant, true)
                    return .answered(answer)
                case .failed(let reason):
                    metrics.reachable(participant, true)
                    lastReason = Self.bounded(reason)
                }
            } catch {
                metrics.reachable(participant, (error as? ParticipantCallError)?.reached ?? false)
                lastReason = Self.bounded("\(error)")
            }
            if attemptsMax != nil || attempt % 20 == 0 {
                logger.warning(
                    "\(operation) not done; retrying", metadata: ["gid": "\(gid)", "attempt": "\(attempt)", "reason": "\(lastReason)"]
                )
            }
            metrics.retried(operation, participant: participant)
            let delay = retry.delay(afterAttempt: attempt, jitter: clock.jitter)
            registry.updateLive(start.spec.id) { [wallMilliseconds, lastReason, attempt] live in
                live.lastErrors[branch] = lastReason
                live.retries[branch] = TransferRegistry.BranchRetry(
                    operation: operation, attempts: attempt + 1,
                    nextAttemptAtMilliseconds: wallMilliseconds() + delay.wholeMilliseconds
                )
            }
            do {
                try await nudges.sleep(start.spec.id, for: delay, clock: clock)
            } catch {
                return .cancelled
            }
            attempt += 1
        }
        return .gaveUp("\(attempt) attempts; last: \(lastReason)")
    }

    /// A participant's words go into sealed records: at most this many bytes of them.
    static let participantReasonBytesMax = 1024

    static func bounded(_ reason: String) -> String {
        guard reason.utf8.count > participantReasonBytesMax else { return reason }
        return reason.truncated(toUTF8Bytes: participantReasonBytesMax - 3) + "..."
    }
}
