import SettleAuth
import SignedLog

/// The verdict on one branch: its barrier rows and whether it is still prepared, against what the
/// log decided and the orders it signed.
struct BranchCheck {
    let gid: String
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
            return cancelled.flatMap { orderProblem($0, .rollback, allowed: expected.decisions.rollback) }.map { ("aborted", $0) }
        case .compensated:
            if committed {
                guard let compensation else { return ("compensated", "the action committed and no compensation row") }
                return orderProblem(compensation, .compensate, allowed: expected.decisions.compensate).map { ("compensated", $0) }
            }
            return cancelled.flatMap { orderProblem($0, .rollback, allowed: expected.decisions.rollback) }.map { ("compensated", $0) }
        }
    }

    /// Why `row`'s kept order does not prove `command` was ordered by one of `allowed`'s records.
    private func orderProblem(_ row: BarrierScan.Row, _ command: PhaseTwoOrder.Command, allowed: Set<UInt64>) -> String? {
        guard let storedLSN = row.decisionLSN, let signature = row.signature else {
            return "a \(row.op) row with no signed order of the coordinator"
        }
        let lsn = UInt64(bitPattern: storedLSN)
        let order = PhaseTwoOrder(command: command, gid: gid, decisionLSN: lsn, work: command == .compensate ? row.digest : nil)
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
