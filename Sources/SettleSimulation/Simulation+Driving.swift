import SettleCore

/// The simulated driver: runs each action the protocol machine returns, as `TransferDriver`
/// does, with the network, the participants and the log in between.
extension Simulation {
    mutating func deliver(_ message: Message) {
        switch message {
        case .submit(let transfer):
            submit(transfer)
        case .request(let key, let request, let requestEpoch):
            handle(request, for: key, epoch: requestEpoch)
        case .event(let transfer, let event, let eventEpoch):
            guard eventEpoch == epoch else { return }  // for a coordinator that has crashed since
            handle(event, transfer: transfer)
        case .seal(let index):
            seal(through: index)
        case .rollBackByHand(let key):
            participants.rollBackByHand(key)
            wakeWaiters()
        case .lockTimeout(let key):
            lockTimedOut(key)
        case .detect(let detectorEpoch):
            guard detectorEpoch == epoch else { return }  // a crashed coordinator's detector
            detectDeadlocks()
        }
    }

    private mutating func submit(_ index: Int) {
        submittedAt[index] = now
        // Submit answers once ACCEPTED is sealed, which seals every record before it too.
        seal(through: log.append(.init(transfer: index, entry: nil, notifies: false, epoch: epoch)))
        let transfer = transfers[index]
        var machine = TransferProtocol(
            branchCount: transfer.branchCount, onPrepareTimeout: transfer.onPrepareTimeout,
            prepareSequence: transfer.ordered ? Array((0..<transfer.branchCount).reversed()) : nil
        )
        do {
            let actions = try machine.start()
            transfers[index].machine = machine
            run(actions, transfer: index)
        } catch {
            transfers[index].rejected.append("start: \(error)")
        }
    }

    mutating func handle(_ event: TransferProtocol.Event, transfer index: Int) {
        guard !transfers[index].done, var machine = transfers[index].machine else { return }
        do {
            let actions = try machine.handle(event)
            transfers[index].machine = machine
            run(actions, transfer: index)
        } catch {
            transfers[index].rejected.append("\(event): \(error)")
        }
    }

    mutating func run(_ actions: [TransferProtocol.Action], transfer index: Int) {
        for action in actions {
            switch action {
            case .sendPrepare(let branches, let untilPrepareDeadline):
                let deadline = untilPrepareDeadline ? transfers[index].prepareDeadline : nil
                for branch in branches { request(.prepare(deadline: deadline), BranchKey(transfer: index, branch: branch)) }
            case .sendCommit(let branches):
                for branch in branches { request(.commit, BranchKey(transfer: index, branch: branch)) }
            case .sendRollback(let branches):
                for branch in branches { request(.rollback, BranchKey(transfer: index, branch: branch)) }
            case .compensate(let branch):
                request(.compensate(attempt: 1), BranchKey(transfer: index, branch: branch))
            case .log(let entry):
                // Like the registry, the client hears of a two-phase commit's end when END is
                // handed to the log: its decision is sealed, so a crash before END is sealed
                // re-drives to the same end. A saga's end only once sealed (`.finished`): its
                // re-drive may end otherwise.
                if case .end(let outcome) = entry, transfers[index].machine?.path == .twoPhase { transfers[index].told = outcome }
                var appended = SimulatedLog.Record(transfer: index, entry: entry, notifies: true, epoch: epoch)
                if entry == .saga {
                    transfers[index].sagaDeadline = now + options.sagaTimeoutMilliseconds
                    appended.sagaDeadline = transfers[index].sagaDeadline
                }
                let record = log.append(appended)
                schedule(.seal(recordIndex: record), after: Int.random(in: 1...8, using: &random))
            case .armPrepareDeadline:
                transfers[index].prepareDeadline = now + options.prepareTimeoutMilliseconds
                schedule(.event(transfer: index, .prepareDeadlinePassed, epoch: epoch), after: options.prepareTimeoutMilliseconds)
            case .armSagaDeadline:
                // After a crash, what is left of the sealed deadline, as settled's recovery does.
                let left = transfers[index].sagaDeadline.map { max(0, $0 - now) } ?? options.sagaTimeoutMilliseconds
                schedule(.event(transfer: index, .sagaDeadlinePassed, epoch: epoch), after: left)
            case .finished(let outcome):
                transfers[index].done = true
                transfers[index].told = outcome
            case .stuck:
                transfers[index].done = true
                transfers[index].toldStuck = true
            }
        }
    }

    /// Sends a request; a first prepare of a slow branch travels as long as the branch is slow.
    mutating func request(_ request: Request, _ key: BranchKey) {
        var delay = latency()
        if case .prepare = request, let slow = participants.behaviours[key]?.slowPrepareMilliseconds, slow > 0 {
            delay += slow
            participants.behaviours[key]?.slowPrepareMilliseconds = 0
        }
        schedule(.request(key, request, epoch: epoch), after: delay)
    }

    private mutating func seal(through index: Int) {
        for record in log.seal(through: index) where record.notifies && record.epoch == epoch {
            guard let entry = record.entry else { continue }
            handle(.logged(entry), transfer: record.transfer)
        }
    }

    mutating func startDetector() {
        guard options.deadlockCheckMilliseconds > 0, !detecting else { return }
        detecting = true
        schedule(.detect(epoch: epoch), after: options.deadlockCheckMilliseconds)
    }

    /// The coordinator's deadlock detector: the wait-for graph of transfers from every prepare
    /// that waits for a row, and an abort request to the youngest transfer of each cycle (the
    /// same `WaitForGraph` settled uses). Looks again while anything waits.
    mutating func detectDeadlocks() {
        detecting = false
        var graph = WaitForGraph<Int>()
        for row in waiting.keys.sorted() {
            guard let holder = participants.holders[row] else { continue }
            for waiter in waiting[row] ?? [] { graph.add(waiting: waiter.key.transfer, holder: holder.transfer) }
        }
        // Sorted: a seed must replay exactly, and the graph's own order is a dictionary's.
        // As settled's detector (`DeadlockDetector.VictimOrder`): the youngest still preparing,
        // then a saga going forward, and one already ending last.
        func rank(_ transfer: Int) -> (Int, Int, Int) {
            let kind =
                switch transfers[transfer].machine?.phase {
                case .created?, .preparing?, .sealingDecision(.commit)?, .sealingDecision(.saga)?: 2
                case .saga(.forward)?: 1
                default: 0
                }
            return (kind, submittedAt[transfer] ?? 0, transfer)
        }
        let victims = graph.victims { first, second in rank(first) > rank(second) }.sorted()
        for victim in victims where !transfers[victim].done {
            let before = transfers[victim].machine
            handle(.abortRequested(reason: "deadlock across participants"), transfer: victim)
            if transfers[victim].machine != before { deadlocksBroken += 1 }
        }
        if waiting.values.contains(where: { !$0.isEmpty }) { startDetector() }
    }
}
