import Logging
import SettleCore
import SignedLog

extension Coordinator {
    /// Rebuilds the transfer table from the last checkpoint and the records after it, and returns
    /// the transfers to drive again: decided ones resume phase two; undecided ones are aborted
    /// (presumed abort: no sealed COMMIT means nothing may have committed).
    func recover(log: SignedLog, journal: Journal, table: TransferTable) async throws -> [DriverStart] {
        let (checkpoint, records) = try await log.recoveryRecords()
        let entries = try journal.recover(checkpoint: checkpoint, records: records)
        var resumed: [DriverStart] = []
        for entry in entries {
            var transfer = TransferEntry(spec: entry.spec, admission: entry.admission, submittedAtMilliseconds: entry.submittedAtMilliseconds)
            transfer.submittedBy = entry.submittedBy
            transfer.proposal = entry.proposal
            transfer.decisionLSN = entry.decisionLSN
            if entry.final == nil || entry.final == .stuck {
                // Only what every checkpoint must carry counts against the budget; measured as
                // Submit measured it (finished transfers, most of what is restored, skip it).
                transfer.acceptedRecordBytes =
                    CoordinatorRecord.accepted(
                        entry.spec, admission: entry.admission, submittedAtMilliseconds: entry.submittedAtMilliseconds,
                        submittedBy: entry.submittedBy
                    ).entry().payload.count
            }
            transfer.reason = entry.reason ?? ""
            if let final = entry.final {
                transfer.apply(entry.facts ?? Self.factsOfAnOlderRecord(entry, final: final))
                table.restore(transfer)
                continue
            }
            let sagaTimeout = Duration.milliseconds(entry.spec.policy.sagaTimeoutMilliseconds ?? sagaTimeoutMilliseconds)
            let decision: TransferLogEntry
            if let decided = entry.decision {
                decision = decided.entry(reason: entry.reason ?? "")
                if entry.decisionLSN == nil {
                    // Sealed by a version that did not keep its LSN: the same decision sealed
                    // again gives the commands that follow one to be signed over.
                    transfer.decisionLSN = try await journal.append(Self.record(of: decided, entry)).rawValue
                }
            } else {
                let reason = "the coordinator restarted before deciding"
                transfer.decisionLSN = try await journal.append(.abort(transferID: entry.spec.id, reason: reason)).rawValue
                decision = .abort(reason: reason)
                transfer.reason = reason
            }
            let (resumedTransfer, actions) = try TransferProtocol.resuming(after: decision, branchCount: entry.spec.branches.count)
            transfer.status = TransferStatus(resumedTransfer.phase)
            table.restore(transfer)
            resumed.append(
                DriverStart(
                    spec: entry.spec, admission: entry.admission, transfer: resumedTransfer, firstActions: actions,
                    prepareTimeout: nil, sagaTimeout: sagaTimeout, decisionLSN: transfer.decisionLSN, acceptedLSN: entry.acceptedLSN
                )
            )
        }
        logger.info(
            "recovered from the log",
            metadata: [
                "checkpoint": "\(checkpoint == nil ? "none" : "yes")", "records": "\(records.count)",
                "transfers": "\(entries.count)", "resumed": "\(resumed.count)",
            ]
        )
        return resumed
    }

    private static func record(of decision: Decision, _ entry: Journal.Entry) -> CoordinatorRecord {
        switch decision {
        case .commit: .commit(transferID: entry.spec.id)
        case .abort: .abort(transferID: entry.spec.id, reason: entry.reason ?? "")
        case .saga: .saga(transferID: entry.spec.id)
        case .compensate: .compensate(transferID: entry.spec.id, reason: entry.reason ?? "")
        }
    }

    /// The facts of a transfer finished by a record sealed before END carried them: rebuilt from
    /// the decision, as well as that record allows.
    private static func factsOfAnOlderRecord(_ entry: Journal.Entry, final: TransferStatus) -> FinalFacts {
        let path =
            switch (final, entry.decision) {
            case (.stuck, _): "heuristic"
            case (.compensated, _): "compensated"
            case (_, .saga?): "saga"
            default: "2pc"
            }
        return FinalFacts(
            status: final, path: path, reason: entry.reason ?? "", finishedAtMilliseconds: entry.submittedAtMilliseconds,
            branchStates: entry.spec.branches.map { _ in final.rawValue }
        )
    }
}
