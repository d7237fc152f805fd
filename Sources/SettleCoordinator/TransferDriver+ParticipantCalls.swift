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
        await untilAnswered("commit", start, branch) { link, gid in
            let response = try await link.phaseTwo.commit(.with { $0.gid = gid }, metadata: link.metadata, options: callOptions)
            switch response.outcome {
            case .committed: return .committed
            case .heuristicRollback: return .heuristicRollback
            default: return nil
            }
        }
    }

    enum CompensationResult {
        case answered(CompensateAnswer)
        case gaveUp(String)
        case cancelled
    }

    /// Runs a branch's compensation, retrying refusals and failures with backoff up to the retry
    /// policy; then the transfer is stuck and an operator decides.
    func compensate(_ start: DriverStart, branch: Int) async -> CompensationResult {
        let target = start.spec.branches[branch]
        let payload = target.compensationPayload.isEmpty ? target.payload : target.compensationPayload
        let gid = gid(start, branch)
        var lastReason = "no answer"
        let attempts = start.spec.policy.compensationRetriesMax.map(Int.init) ?? compensationRetriesMax
        for attempt in 0..<max(1, attempts) {
            if let link = links[target.participant] {
                do {
                    let response = try await link.phaseTwo.compensate(
                        .with {
                            $0.gid = gid
                            $0.compensation = target.compensation
                            $0.payload = payload
                        },
                        metadata: link.metadata, options: callOptions
                    )
                    metrics.reachable(target.participant, true)
                    switch response.outcome {
                    case .compensated: return .answered(.compensated)
                    case .empty: return .answered(.empty)
                    default: lastReason = Self.bounded("refused: \(response.reason)")
                    }
                } catch {
                    lastReason = Self.bounded("\(error)")
                }
            }
            logger.warning("compensation failed; retrying", metadata: ["gid": "\(gid)", "attempt": "\(attempt)", "reason": "\(lastReason)"])
            metrics.retried("compensate", participant: target.participant)
            do {
                try await Task.sleep(for: retry.delay(afterAttempt: attempt))
            } catch {
                return .cancelled
            }
        }
        return .gaveUp("\(attempts) attempts; last: \(lastReason)")
    }

    func rollback(_ start: DriverStart, branch: Int) async -> RollbackAnswer? {
        await untilAnswered("rollback", start, branch) { link, gid in
            let response = try await link.phaseTwo.rollback(.with { $0.gid = gid }, metadata: link.metadata, options: callOptions)
            switch response.outcome {
            case .rolledBack: return .rolledBack
            case .alreadyCommitted: return .alreadyCommitted
            default: return nil
            }
        }
    }

    /// Phase two never gives up: the decision is sealed, so the only way forward is through.
    /// Returns nil only when the task is cancelled (shutdown); recovery then finishes the job.
    func untilAnswered<Answer: Sendable>(
        _ operation: String, _ start: DriverStart, _ branch: Int,
        _ call: (ParticipantLink, String) async throws -> Answer?
    ) async -> Answer? {
        let participant = start.spec.branches[branch].participant
        let gid = gid(start, branch)
        var attempt = 0
        while true {
            if let link = links[participant] {
                do {
                    if let answer = try await call(link, gid) {
                        metrics.reachable(participant, true)
                        return answer
                    }
                } catch {
                    metrics.reachable(participant, false)
                    if attempt == 0 || attempt % 20 == 0 {
                        logger.warning(
                            "\(operation) not answered; retrying",
                            metadata: ["gid": "\(gid)", "attempt": "\(attempt)", "error": "\(error)"]
                        )
                    }
                }
            }
            metrics.retried(operation, participant: participant)
            do {
                try await Task.sleep(for: retry.delay(afterAttempt: attempt))
            } catch {
                return nil
            }
            attempt += 1
        }
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
