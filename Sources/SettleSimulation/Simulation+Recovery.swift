import SettleCore

/// The coordinator crashing at any step, and coming back as `settled` recovers (TransferRecovery,
/// Coordinator+Sweep): from the sealed log only.
extension Simulation {
    mutating func crashAndRecover() {
        crashes += 1
        epoch += 1
        detecting = false
        log.loseUnsealed()
        for index in transfers.indices {
            transfers[index].machine = nil
            transfers[index].done = false
            transfers[index].prepareDeadline = nil
            transfers[index].sagaDeadline = log.sealedSagaDeadline(of: index)
        }
        for index in transfers.indices where log.isAccepted(index) { recover(index) }
        if waiting.values.contains(where: { !$0.isEmpty }) { startDetector() }
    }

    private mutating func recover(_ index: Int) {
        let entries = log.sealedEntries(of: index)
        if entries.contains(where: { if case .end = $0 { true } else if case .stuck = $0 { true } else { false } }) {
            transfers[index].done = true
            return
        }
        var decision = entries.last { entry in
            switch entry {
            case .commit, .abort, .saga, .compensate: true
            case .end, .stuck, .heuristic: false
            }
        }
        if decision == nil {
            // Presumed abort: recovery seals ABORT before driving anything.
            let abort = TransferLogEntry.abort(reason: "the coordinator restarted before deciding")
            _ = log.seal(through: log.append(.init(transfer: index, entry: abort, notifies: false, epoch: epoch)))
            decision = abort
        }
        guard let decision else { return }
        do {
            let (machine, actions) = try TransferProtocol.resuming(after: decision, branchCount: transfers[index].branchCount)
            transfers[index].machine = machine
            run(actions, transfer: index)
        } catch {
            transfers[index].rejected.append("resuming after \(decision): \(error)")
        }
    }

    /// The in-doubt sweep, once everything has settled: a prepared branch of a transfer that ended
    /// committed is committed, of one that ended otherwise rolled back; a stuck transfer's branches
    /// are left to its operator.
    mutating func sweep() {
        for (key, branch) in participants.branches where branch.state == .prepared {
            switch finalOutcome(key.transfer) {
            case .committed: _ = participants.commit(key)
            case .aborted, .compensated: _ = participants.rollback(key)
            case nil: continue
            }
        }
    }

    func finalOutcome(_ transfer: Int) -> TransferOutcome? {
        for entry in log.sealedEntries(of: transfer).reversed() { if case .end(let outcome) = entry { return outcome } }
        return nil
    }
}
