import SettleCore

/// What must hold once a run has settled, whatever the scheduler did.
extension Simulation {
    func invariants() -> [String] {
        var violations: [String] = []
        for index in transfers.indices {
            violations += check(index)
        }
        for row in waiting.keys.sorted() {
            guard let queue = waiting[row], !queue.isEmpty else { continue }
            violations.append("\(queue.map { "\($0.key)" }) still wait for row \(row.row) of participant \(row.participant)")
        }
        return violations
    }

    private func check(_ index: Int) -> [String] {
        let transfer = transfers[index]
        let entries = log.sealedEntries(of: index)
        let keys = (0..<transfer.branchCount).map { BranchKey(transfer: index, branch: $0) }
        let branches = keys.map { participants.branches[$0] ?? SimulatedParticipants.Branch() }
        let stuck = entries.contains { if case .stuck = $0 { true } else { false } }
        let decidedForward = entries.contains { $0 == .commit || $0 == .saga }
        let decidedCompensation = entries.contains { if case .compensate = $0 { true } else { false } }
        var violations: [String] = transfer.rejected.map { "t\(index): the machine rejected \($0)" }
        let outcome = finalOutcome(index)
        if outcome == nil, !stuck { violations.append("t\(index) is neither final nor stuck") }
        violations += BranchInvariants.violations(
            Array(zip(keys, branches)),
            decided: .init(forward: decidedForward, compensation: decidedCompensation, stuck: stuck), ending: outcome
        )
        if let told = transfer.told, told != outcome {
            violations.append("t\(index): the client was told \(told), the log ended it \(outcome.map { "\($0)" } ?? "not at all")")
        }
        if transfer.toldStuck, !stuck { violations.append("t\(index): the client was told stuck, the log holds no STUCK") }
        return violations
    }
}
