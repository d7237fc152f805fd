import SettleCore
import SettleSimulation
import SignedLog

/// What must hold once a run has settled, whatever the seed did.
extension SimulatedWorld {
    /// settled's in-doubt sweep, once, over every branch still prepared: `sweepVerdict` judges
    /// each from the live registry, as the periodic sweep does. Before it, a transfer reported
    /// finished with a branch still prepared is a violation: the sweep would hide a driver that
    /// sealed END too early.
    func sweep() {
        guard let registry = shared.withLock({ $0.registry }) else { return }
        for (index, spec) in specs.enumerated() {
            guard let entry = registry.entry(spec.id), entry.status.isFinal, entry.status != .stuck else { continue }
            for branch in spec.branches.indices
            where shared.withLock({ $0.participants.state(BranchKey(transfer: index, branch: branch)) }) == .prepared {
                violation("t\(index)/b\(branch) is still prepared in a transfer reported \(entry.status)")
            }
        }
        for (index, spec) in specs.enumerated() {
            for branch in spec.branches.indices {
                let key = BranchKey(transfer: index, branch: branch)
                guard shared.withLock({ $0.participants.state(key) }) == .prepared else { continue }
                let entry = registry.entry(spec.id)
                let verdict: Coordinator.SweepVerdict
                if let entry,
                    let gid = try? BranchGID(parsing: spec.gid(ofBranch: branch, coordinatorID: Self.coordinatorID, admission: entry.admission))
                {
                    verdict = Coordinator.sweepVerdict(for: gid, at: spec.branches[branch].participant, entry: entry)
                } else {
                    verdict = .rollBack
                }
                shared.withLock { shared in
                    switch verdict {
                    case .commit: _ = shared.participants.commit(key)
                    case .rollBack: _ = shared.participants.rollback(key)
                    case .leave: break
                    }
                }
            }
        }
    }

    func invariants() -> [String] {
        let (criticals, registry) = shared.withLock { ($0.criticals, $0.registry) }
        guard let registry else { return ["no coordinator ran"] }
        var records: [String: [CoordinatorRecord]] = [:]
        for record in log.sealedRecords {
            guard let coordinatorRecord = try? CoordinatorRecord(record) else { continue }
            records[coordinatorRecord.transferID, default: []].append(coordinatorRecord)
        }
        var violations = criticals
        violations += restartReportsTheSame(registry)
        for (index, spec) in specs.enumerated() {
            violations += check(index, spec, entry: registry.entry(spec.id), sealed: records[spec.id] ?? [])
        }
        return violations
    }

    private func check(_ index: Int, _ spec: TransferSpec, entry: TransferEntry?, sealed: [CoordinatorRecord]) -> [String] {
        let keys = spec.branches.indices.map { BranchKey(transfer: index, branch: $0) }
        let (branches, told) = shared.withLock { shared in
            (keys.map { shared.participants.branches[$0] ?? SimulatedParticipants.Branch() }, shared.told[index])
        }
        let stuck = sealed.contains { if case .stuck = $0 { true } else { false } }
        let decidedForward = sealed.contains {
            if case .saga(spec.id, _) = $0 { return true }
            return $0 == .commit(transferID: spec.id)
        }
        let decidedCompensation = sealed.contains { if case .compensate = $0 { true } else { false } }
        var violations: [String] = []
        guard let entry else { return ["t\(index) is unknown to the registry"] }
        if !entry.status.isFinal { violations.append("t\(index) is neither final nor stuck: \(entry.status)") }
        if entry.status == .stuck, !stuck { violations.append("t\(index) is reported stuck without STUCK in the log") }
        let ending: TransferOutcome? =
            switch entry.status {
            case .committed: .committed
            case .aborted: .aborted
            case .compensated: .compensated
            default: nil
            }
        // A transfer reported stuck may keep its branches prepared for its operator.
        violations += BranchInvariants.violations(
            Array(zip(keys, branches)),
            decided: .init(forward: decidedForward, compensation: decidedCompensation, stuck: entry.status == .stuck), ending: ending
        )
        if let told, told != entry.status {
            violations.append("t\(index): the client was told \(told), the registry reports \(entry.status)")
        }
        return violations
    }

    /// The registry rebuilt from the sealed log alone reports every transfer as the live one
    /// does: nothing it reports lives outside the records.
    private func restartReportsTheSame(_ live: TransferRegistry) -> [String] {
        let rebuilt = TransferRegistry(log: MemoryRecordLog(sealsAtOnce: true), inFlightMax: 100_000, rememberedMax: 100_000)
        let (checkpoint, records) = log.recoveryRecords()
        do {
            _ = try rebuilt.recover(checkpoint: checkpoint, records: records)
        } catch {
            return ["the sealed log does not recover: \(error)"]
        }
        return specs.compactMap { spec in
            guard let now = live.entry(spec.id), now.status.isFinal else { return nil }
            let again = rebuilt.entry(spec.id)
            guard again?.status == now.status, again?.finalPath == now.finalPath, again?.reason == now.reason else {
                return "\(spec.id): live \(now.status)/\(now.finalPath ?? "")/\(now.reason); from the log "
                    + "\(again.map { "\($0.status)/\($0.finalPath ?? "")/\($0.reason)" } ?? "unknown")"
            }
            return nil
        }
    }

    func outcomes() -> [String: Int] {
        guard let registry = shared.withLock({ $0.registry }) else { return [:] }
        var counts: [String: Int] = [:]
        for spec in specs { counts[registry.entry(spec.id).map { $0.status.rawValue } ?? "unknown", default: 0] += 1 }
        return counts
    }
}
