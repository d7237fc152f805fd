import SettleAuth
import SignedLog

/// The verdict on one branch: its barrier rows and whether it is still prepared, against what the
/// log decided, the work it named and the orders it signed.
struct BranchCheck {
    let gid: String
    let participant: String
    let branchIndex: Int
    let expected: LogExpectations.Transfer
    let rows: [BarrierScan.Row]
    let isPrepared: Bool
    let keys: [VerifyingKey]

    private func row(_ op: String) -> BarrierScan.Row? { rows.first { $0.op == op } }

    /// Nil when the database shows what the log decided; else what it shows instead.
    func disagreement() -> (log: String, database: String)? {
        let action = row("action")
        let cancelled = row("cancelled")
        let compensation = row("compensation")
        let committed = action != nil && cancelled == nil
        if let problem = foreignWork(action, compensation) { return ("other work", problem) }
        switch expected.ending {
        case .inFlight, .stuck, .manual:
            return nil
        case _ where isPrepared:
            return (describe(expected.ending), "the branch still prepared")
        case .committed:
            guard let action else { return ("committed", "no action row") }
            guard cancelled == nil else { return ("committed", "the branch cancelled") }
            return orderProblem(action, .commit, allowed: expected.decisions.commit).map { ("committed", $0) }
        case .aborted:
            if committed { return ("aborted", "the action committed") }
            return cancellation(cancelled, compensation).map { ("aborted", $0) }
        case .compensated:
            if committed {
                guard let compensation else { return ("compensated", "the action committed and no compensation row") }
                return orderProblem(compensation, .compensate, allowed: expected.decisions.compensate).map { ("compensated", $0) }
            }
            return cancellation(cancelled, compensation).map { ("compensated", $0) }
        }
    }

    /// A row whose digest is not the work the log's ACCEPTED record names for this branch.
    private func foreignWork(_ action: BarrierScan.Row?, _ compensation: BarrierScan.Row?) -> String? {
        if let digest = action?.digest, digest != expected.actionDigests[branchIndex] {
            return "an action row for work the log never named"
        }
        if let digest = compensation?.digest, digest != expected.compensationDigests[branchIndex] {
            return "a compensation row for work the log never named"
        }
        return nil
    }

    /// A cancelled branch keeps a rollback's order on its cancelled row, or — cancelled by a
    /// compensation that came before its action — a compensation's order on its compensation row.
    private func cancellation(_ cancelled: BarrierScan.Row?, _ compensation: BarrierScan.Row?) -> String? {
        guard let cancelled else { return nil }
        if cancelled.signature == nil, let compensation {
            return orderProblem(compensation, .compensate, allowed: expected.decisions.compensate)
        }
        return orderProblem(cancelled, .rollback, allowed: expected.decisions.rollback)
    }

    /// Why `row`'s kept order does not prove `command` was ordered by one of `allowed`'s records.
    private func orderProblem(_ row: BarrierScan.Row, _ command: SignedOrder.Command, allowed: Set<UInt64>) -> String? {
        guard let storedLSN = row.decisionLSN, let signature = row.signature else {
            return "a \(row.op) row with no signed order of the coordinator"
        }
        let lsn = UInt64(bitPattern: storedLSN)
        let order = SignedOrder(
            command: command, participant: participant, gid: gid, decisionLSN: lsn, work: command.carriesWork ? row.digest : nil
        )
        if let refusal = order.refusal(of: signature, keys: keys) { return "a \(row.op) row whose order does not verify (\(refusal))" }
        guard allowed.contains(lsn) else {
            return "a \(row.op) row ordered at LSN \(lsn), which is no \(command.rawValue) decision of this transfer in the log"
        }
        return nil
    }

    private func describe(_ ending: LogExpectations.Ending) -> String {
        switch ending {
        case .committed: "committed"
        case .aborted: "aborted"
        case .compensated: "compensated"
        case .inFlight: "in flight"
        case .stuck: "stuck"
        case .manual(let outcome): "resolved by hand as \(outcome.rawValue)"
        }
    }
}
