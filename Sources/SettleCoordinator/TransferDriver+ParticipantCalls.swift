import GRPCCore
import SettleCore
import SettleProtocol

/// The driver's calls to participants: each retries as the protocol allows (a Prepare until its
/// deadline, phase two until answered, a compensation up to its attempts), each call bounded, and
/// every answer a participant gives is cut to size before it can reach a sealed record.
extension TransferDriver {
    func gid(_ start: DriverStart, _ branch: Int) -> String {
        start.spec.gid(ofBranch: branch, coordinatorID: coordinatorID, admission: start.admission)
    }

    /// Prepares one branch, retrying transient failures until `deadline` (nil: until answered).
    /// Nil when the deadline passed first; a non-transient failure is a refusal with its reason.
    func prepare(_ start: DriverStart, branch: Int, until deadline: ContinuousClock.Instant?) async -> PrepareAnswer? {
        let target = start.spec.branches[branch]
        guard let link = links[target.participant] else {
            return .refused(reason: "participant \(target.participant) is not configured")
        }
        var request = Settle_V1_PrepareRequest()
        request.gid = gid(start, branch)
        request.action = target.action
        request.payload = target.payload
        var attempt = 0
        while !Task.isCancelled {
            // A re-drive (no deadline) may legitimately wait on row locks for longer than a
            // phase-two call; the saga deadline bounds it, and the link's keepalive notices a
            // participant that stopped answering altogether.
            var options = CallOptions.defaults
            if let deadline {
                let remaining = deadline - ContinuousClock.now
                guard remaining > .zero else { return nil }
                options.timeout = remaining
            }
            do {
                let response = try await link.preparing.prepare(request, metadata: link.metadata, options: options)
                metrics.reachable(link.name, true)
                switch response.outcome {
                case .prepared where crashPoints.refusesEveryPrepare:
                    return .refused(reason: "deliberately broken build (SETTLE_BREAK=refuse-every-prepare)")
                case .prepared: return .prepared
                case .refused:
                    let kind = response.refusalKind == .cancelled ? "cancelled" : "refused"
                    return .refused(reason: Self.bounded("\(target.participant) \(kind): \(response.reason)"))
                default:
                    return .refused(reason: "\(target.participant) answered an unknown prepare outcome")
                }
            } catch let error as RPCError where Self.isTransient(error.code) {
                metrics.reachable(link.name, error.code != .unavailable)
                metrics.retried("prepare", participant: link.name)
            } catch let error as RPCError {
                return .refused(reason: Self.bounded("\(target.participant) failed: \(error.code): \(error.message)"))
            } catch {
                metrics.retried("prepare", participant: link.name)
            }
            try? await Task.sleep(for: retry.delay(afterAttempt: attempt))
            attempt += 1
        }
        return nil
    }

    func commit(_ start: DriverStart, branch: Int) async -> CommitAnswer? {
        let result: Retried<CommitAnswer> = await retrying("commit", start, branch) { link, gid in
            let response = try await link.phaseTwo.commit(.with { $0.gid = gid }, metadata: link.metadata, options: callOptions)
            switch response.outcome {
            case .committed: return .answered(.committed)
            case .heuristicRollback: return .answered(.heuristicRollback)
            default: return .failed("unknown commit outcome \(response.outcome)")
            }
        }
        return result.answer
    }

    func rollback(_ start: DriverStart, branch: Int) async -> RollbackAnswer? {
        let result: Retried<RollbackAnswer> = await retrying("rollback", start, branch) { link, gid in
            let response = try await link.phaseTwo.rollback(.with { $0.gid = gid }, metadata: link.metadata, options: callOptions)
            switch response.outcome {
            case .rolledBack: return .answered(.rolledBack)
            case .alreadyCommitted: return .answered(.alreadyCommitted)
            default: return .failed("unknown rollback outcome \(response.outcome)")
            }
        }
        return result.answer
    }

    /// Runs a branch's compensation, retrying refusals and failures with backoff up to the
    /// transfer's attempts; then the transfer is stuck and an operator decides.
    func compensate(_ start: DriverStart, branch: Int) async -> Retried<CompensateAnswer> {
        let target = start.spec.branches[branch]
        let payload = target.compensationPayload.isEmpty ? target.payload : target.compensationPayload
        let attempts = start.spec.policy.compensationRetriesMax.map(Int.init) ?? compensationRetriesMax
        return await retrying("compensate", start, branch, attemptsMax: max(1, attempts)) { link, gid in
            let response = try await link.phaseTwo.compensate(
                .with {
                    $0.gid = gid
                    $0.compensation = target.compensation
                    $0.payload = payload
                },
                metadata: link.metadata, options: callOptions
            )
            switch response.outcome {
            case .compensated: return .answered(.compensated)
            case .empty: return .answered(.empty)
            default: return .failed("refused: \(response.reason)")
            }
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
        _ call: (ParticipantLink, String) async throws -> Attempt<Answer>
    ) async -> Retried<Answer> {
        let participant = start.spec.branches[branch].participant
        let gid = gid(start, branch)
        var lastReason = "no answer"
        var attempt = 0
        while attemptsMax.map({ attempt < $0 }) ?? true {
            if let link = links[participant] {
                do {
                    switch try await call(link, gid) {
                    case .answered(let answer):
                        metrics.reachable(participant, true)
                        return .answered(answer)
                    case .failed(let reason):
                        metrics.reachable(participant, true)
                        lastReason = Self.bounded(reason)
                    }
                } catch {
                    metrics.reachable(participant, false)
                    lastReason = Self.bounded("\(error)")
                }
            } else {
                lastReason = "participant \(participant) is not configured"
            }
            if attemptsMax != nil || attempt % 20 == 0 {
                logger.warning(
                    "\(operation) not done; retrying", metadata: ["gid": "\(gid)", "attempt": "\(attempt)", "reason": "\(lastReason)"]
                )
            }
            metrics.retried(operation, participant: participant)
            do {
                try await Task.sleep(for: retry.delay(afterAttempt: attempt))
            } catch {
                return .cancelled
            }
            attempt += 1
        }
        return .gaveUp("\(attempt) attempts; last: \(lastReason)")
    }

    /// Each phase-two call is bounded, so a participant that never answers is a failed attempt.
    var callOptions: CallOptions {
        var options = CallOptions.defaults
        options.timeout = callTimeout
        return options
    }

    /// A participant's words go into sealed records: at most this many bytes of them.
    static let participantReasonBytesMax = 1024

    static func bounded(_ reason: String) -> String {
        guard reason.utf8.count > participantReasonBytesMax else { return reason }
        return reason.truncated(toUTF8Bytes: participantReasonBytesMax - 3) + "..."
    }

    static func isTransient(_ code: RPCError.Code) -> Bool {
        code == .aborted || code == .unavailable || code == .deadlineExceeded || code == .resourceExhausted || code == .cancelled
    }
}
