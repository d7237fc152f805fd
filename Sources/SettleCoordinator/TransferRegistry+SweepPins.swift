import SettleCore

/// A transfer that was stuck and then ended (an operator's resolution, or a late retry) may still
/// have a branch prepared at a participant that was unreachable, often the reason it got stuck.
/// Only its entry tells the in-doubt sweep what was decided for that branch: forgotten, the
/// branch would be presumed aborted and rolled back, even under a sealed MANUAL(committed). So
/// such a transfer is pinned, kept out of the remembered order and in every checkpoint, until a
/// sweep of each of its participants, begun after it ended, found none of its branches prepared.
/// A restart pins again every resolved transfer it reads from a checkpoint: what the sweeps had
/// found is not in the log.
extension TransferRegistry {
    struct SweepPin: Sendable {
        /// Participants not yet swept clean of the transfer's branches.
        var participants: Set<String>
        /// The sweep count when it was pinned: only sweeps begun later count.
        let sinceSweep: UInt64
    }

    /// Called by a sweep before it asks a participant for its prepared branches; the token says
    /// which pins the answer may release.
    func sweepStarted() -> UInt64 {
        state.withLock { state in
            state.sweepsStarted += 1
            return state.sweepsStarted
        }
    }

    /// A sweep begun at `sweepToken` found these transfers' branches prepared at `participant`,
    /// and no others: every pinned transfer not among them is clean there.
    func sweptClean(at participant: String, preparedTransferIDs: Set<String>, sweepToken: UInt64) {
        state.withLock { state in
            for (id, pin) in state.sweepPins
            where sweepToken > pin.sinceSweep && pin.participants.contains(participant) && !preparedTransferIDs.contains(id) {
                state.sweepPins[id]?.participants.remove(participant)
                guard state.sweepPins[id]?.participants.isEmpty == true else { continue }
                state.sweepPins[id] = nil
                Self.release(id, in: &state, rememberedMax: rememberedMax)
            }
        }
    }

    var pinnedCount: Int { state.withLock { $0.sweepPins.count } }

    /// Pins a transfer that ended after being stuck; false when none of its participants is swept
    /// (so nothing could ever release it). A pinned transfer's ACCEPTED bytes stay counted against
    /// the unfinished budget, since every checkpoint carries it whole.
    static func pinUntilSwept(_ id: String, in state: inout State) -> Bool {
        guard let spec = state.transfers[id]?.sealed.spec else { return false }
        var participants = Set(spec.branches.map(\.participant))
        if let swept = state.sweptParticipants { participants.formIntersection(swept) }
        guard !participants.isEmpty else { return false }
        state.sweepPins[id] = SweepPin(participants: participants, sinceSweep: state.sweepsStarted)
        return true
    }

    /// A finished transfer joins the remembered order, its bytes no longer counted as unfinished.
    static func release(_ id: String, in state: inout State, rememberedMax: Int) {
        state.unfinishedRecordBytes -= state.transfers[id]?.live.acceptedRecordBytes ?? 0
        state.transfers[id]?.live.acceptedRecordBytes = 0
        remember(id, in: &state, max: rememberedMax)
    }
}
