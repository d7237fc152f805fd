import GRPCCore
import Logging
import SettleCore
import SettleProtocol

extension Coordinator {
    /// Asks every participant for prepared branches under this coordinator's prefix and resolves
    /// each from what the log decided: a branch of a transfer that is unknown, or finished as
    /// aborted, is rolled back (presumed abort); transfers still being driven are left to their
    /// driver. Runs at start and then periodically, so an orphan prepared by a slow, late request
    /// is still found.
    func sweepPeriodically(links: [String: ParticipantLink], table: TransferTable) async {
        while !Task.isCancelled {
            for link in links.values { await sweep(link, table: table) }
            try? await Task.sleep(for: .milliseconds(sweepIntervalMilliseconds))
        }
    }

    private func sweep(_ link: ParticipantLink, table: TransferTable) async {
        // Validated with the configuration before the coordinator started.
        guard let prefix = try? BranchGID.prefix(coordinatorID: coordinatorID) else {
            preconditionFailure("invalid coordinator id \(coordinatorID)")
        }
        let branches: [Settle_V1_InDoubtResponse.Branch]
        do {
            branches = try await link.phaseTwo.inDoubt(.with { $0.gidPrefix = prefix }, metadata: link.metadata).branches
        } catch {
            logger.debug("in-doubt sweep could not reach a participant", metadata: ["participant": "\(link.name)", "error": "\(error)"])
            return
        }
        for branch in branches {
            guard let gid = try? BranchGID(parsing: branch.gid), gid.coordinatorID == coordinatorID else { continue }
            let entry = table.entry(gid.transferID)
            let shouldRollBack: Bool
            switch entry?.status {
            case nil, .aborted?, .compensated?: shouldRollBack = true
            case .committed?:
                // Decided and finished as committed, yet prepared: commit it.
                _ = try? await link.phaseTwo.commit(.with { $0.gid = branch.gid }, metadata: link.metadata)
                continue
            case .preparing?, .committing?, .aborting?, .stuck?, .saga?, .compensating?:
                shouldRollBack = false  // its driver (or an operator) owns it
            }
            guard shouldRollBack else { continue }
            do {
                _ = try await link.phaseTwo.rollback(.with { $0.gid = branch.gid }, metadata: link.metadata)
                logger.info("rolled back an orphaned branch", metadata: ["gid": "\(branch.gid)", "age_ms": "\(branch.ageMs)"])
            } catch {
                logger.warning("could not roll back an orphaned branch", metadata: ["gid": "\(branch.gid)", "error": "\(error)"])
            }
        }
    }

    /// Appends a checkpoint every interval, so that recovery reads only recent records.
    func checkpointPeriodically(journal: Journal) async {
        while !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(checkpointIntervalMilliseconds))
            guard !Task.isCancelled else { return }
            do {
                let lsn = try await journal.appendCheckpoint()
                logger.debug("checkpoint sealed", metadata: ["lsn": "\(lsn)"])
            } catch {
                logger.error("checkpoint failed", metadata: ["error": "\(error)"])
            }
        }
    }
}
