import SettleCore

/// A request reaching its participant, and the answer (or the silence) that comes back, with the
/// driver's retry rules: a prepare retries until its deadline, phase two until answered, a
/// compensation up to its attempts.
extension Simulation {
    mutating func handle(_ request: Request, for key: BranchKey, epoch requestEpoch: Int) {
        let lostOnTheWay = random.chance(options.dropPercent)
        var answer: TransferProtocol.Event?
        if !lostOnTheWay {
            answer = perform(request, key)
            // The network delivered the request twice: the participant must not mind.
            if random.chance(options.duplicatePercent) { _ = perform(request, key) }
        }
        guard requestEpoch == epoch else { return }  // its coordinator crashed: nobody is listening
        let answerLost = random.chance(options.dropPercent)
        let arrival = now + latency()
        switch request {
        case .prepare(let deadline):
            if let deadline, arrival > deadline { return }  // the call gave up at the deadline
            guard let answer, !answerLost else {
                let retryAt = now + backoff(1)
                if deadline.map({ retryAt < $0 }) ?? true { schedule(.request(key, request, epoch: epoch), after: retryAt - now) }
                return
            }
            schedule(.event(transfer: key.transfer, answer, epoch: epoch), after: arrival - now)
        case .commit, .rollback:
            guard let answer, !answerLost else {
                schedule(.request(key, request, epoch: epoch), after: backoff(2))
                return
            }
            schedule(.event(transfer: key.transfer, answer, epoch: epoch), after: arrival - now)
        case .compensate(let attempt):
            if let answer, !answerLost {
                schedule(.event(transfer: key.transfer, answer, epoch: epoch), after: arrival - now)
            } else if attempt < options.compensationAttempts {
                schedule(.request(key, .compensate(attempt: attempt + 1), epoch: epoch), after: backoff(attempt))
            } else {
                let gaveUp = TransferProtocol.Event.compensationGaveUp(branch: key.branch, reason: "failed \(attempt) times")
                schedule(.event(transfer: key.transfer, gaveUp, epoch: epoch), after: arrival - now)
            }
        }
    }

    /// The participant's side; nil when a compensation attempt failed.
    private mutating func perform(_ request: Request, _ key: BranchKey) -> TransferProtocol.Event? {
        switch request {
        case .prepare:
            let answer = participants.prepare(key)
            if answer == .prepared, participants.behaviours[key]?.rolledBackByHand == true {
                participants.behaviours[key]?.rolledBackByHand = false
                schedule(.rollBackByHand(key), after: Int.random(in: 1...100, using: &random))
            }
            return .prepareAnswered(branch: key.branch, answer)
        case .commit:
            return .commitAnswered(branch: key.branch, participants.commit(key))
        case .rollback:
            return .rollbackAnswered(branch: key.branch, participants.rollback(key))
        case .compensate:
            return participants.compensate(key).map { .compensateAnswered(branch: key.branch, $0) }
        }
    }
}
