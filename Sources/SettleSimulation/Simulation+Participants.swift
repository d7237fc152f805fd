import SettleCore

/// A request reaching its participant, and the answer (or the silence) that comes back, with the
/// driver's retry rules: a prepare retries until its deadline, phase two until answered, a
/// compensation up to its attempts. A prepare whose row is held waits, as a database does, until
/// the row is released, its lock timeout passes, or its branch is rolled back.
extension Simulation {
    mutating func handle(_ request: Request, for key: BranchKey, epoch requestEpoch: Int) {
        let lostOnTheWay = random.chance(options.dropPercent)
        var answer: TransferProtocol.Event?
        if !lostOnTheWay {
            guard let performed = perform(request, key, epoch: requestEpoch) else { return }  // waits for its row
            answer = performed
            // The network delivered the request twice: the participant must not mind.
            if random.chance(options.duplicatePercent) { _ = perform(request, key, epoch: requestEpoch, isDuplicate: true) }
        }
        wakeWaiters()
        answerOrRetry(request, for: key, epoch: requestEpoch, answer: answer)
    }

    /// Sends `answer` back to the coordinator that asked, or, when it is lost, retries by the
    /// driver's rules.
    private mutating func answerOrRetry(_ request: Request, for key: BranchKey, epoch requestEpoch: Int, answer: TransferProtocol.Event?) {
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

    /// The participant's side: nil when a prepare now waits for its row; `.some(nil)` when a
    /// compensation attempt failed (`answerOrRetry` retries it).
    private mutating func perform(
        _ request: Request, _ key: BranchKey, epoch requestEpoch: Int, isDuplicate: Bool = false
    )
        -> TransferProtocol.Event??
    {
        switch request {
        case .prepare:
            switch participants.prepare(key) {
            case .waits:
                guard !isDuplicate else { return nil }
                let row = participants.row(of: key)
                let waiter = Waiter(key: key, request: request, epoch: requestEpoch)
                if let index = waiting[row]?.firstIndex(where: { $0.key == key }) {
                    // Another call for the same gid. One from a newer coordinator incarnation wins
                    // (the older one's connection is gone); one from an older incarnation, late
                    // in the network, has nobody to answer and changes nothing.
                    if let current = waiting[row]?[index], requestEpoch >= current.epoch { waiting[row]?[index] = waiter }
                } else {
                    waiting[row, default: []].append(waiter)
                }
                schedule(.lockTimeout(key), after: options.lockTimeoutMilliseconds)
                startDetector()
                return nil
            case .answered(let answer):
                if answer == .prepared, participants.behaviours[key]?.rolledBackByHand == true {
                    participants.behaviours[key]?.rolledBackByHand = false
                    schedule(.rollBackByHand(key), after: Int.random(in: 1...100, using: &random))
                }
                return .some(.prepareAnswered(branch: key.branch, answer))
            }
        case .commit:
            return .some(.commitAnswered(branch: key.branch, participants.commit(key)))
        case .rollback:
            // A rollback cancels a prepare of its gid that waits for a row.
            let row = participants.row(of: key)
            waiting[row]?.removeAll { $0.key == key }
            return .some(.rollbackAnswered(branch: key.branch, participants.rollback(key)))
        case .compensate:
            return .some(participants.compensate(key).map { .compensateAnswered(branch: key.branch, $0) })
        }
    }

    /// The first prepare waiting for each row that is free again tries again now. (Rows in order:
    /// a dictionary's order differs between runs, and a seed must replay exactly.)
    mutating func wakeWaiters() {
        for row in waiting.keys.sorted() {
            guard let first = waiting[row]?.first, participants.holders[row] == nil else { continue }
            waiting[row]?.removeFirst()
            schedule(.request(first.key, first.request, epoch: first.epoch), after: 0)
        }
    }

    /// The lock timeout of a prepare still waiting: its participant answers a transient failure,
    /// which the driver retries while the deadline allows.
    mutating func lockTimedOut(_ key: BranchKey) {
        let row = participants.row(of: key)
        guard let index = waiting[row]?.firstIndex(where: { $0.key == key }), let waiter = waiting[row]?.remove(at: index) else {
            return
        }
        answerOrRetry(waiter.request, for: key, epoch: waiter.epoch, answer: nil)
    }
}
