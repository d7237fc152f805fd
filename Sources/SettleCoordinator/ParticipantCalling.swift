import Foundation
import Logging
import SettleCore

/// What the driver needs of participants: one bounded attempt at each command. Retries, deadlines
/// and what an answer means for the transfer stay with the driver, so it runs as well against
/// in-memory participants as against `GRPCParticipants`.
protocol ParticipantCalling: Sendable {
    /// `timeout` nil: as long as it takes (a re-drive).
    /// `acceptedLSN`: the transfer's ACCEPTED record, which the Prepare's order is signed over.
    func prepare(
        _ participant: String, gid: String, action: String, payload: Data, acceptedLSN: UInt64, timeout: Duration?
    ) async throws -> PrepareAnswer
    /// `decisionLSN`: the sealed record that ordered the command, which it is signed over.
    func commit(_ participant: String, gid: String, decisionLSN: UInt64) async throws -> CommitAnswer
    func rollback(_ participant: String, gid: String, decisionLSN: UInt64) async throws -> RollbackAnswer
    /// `.failed` carries a participant's refusal to compensate now.
    func compensate(
        _ participant: String, gid: String, compensation: String, payload: Data, decisionLSN: UInt64
    ) async throws
        -> TransferDriver.Attempt<CompensateAnswer>
}

/// Why an attempt got no answer. A transient failure (unreachable, overloaded, a lock conflict, a
/// deadline) is retried; a permanent one ends a Prepare as a refusal naming it. Any other error a
/// `ParticipantCalling` throws counts as transient.
struct ParticipantCallError: Error, CustomStringConvertible {
    let isTransient: Bool
    /// Whether the participant answered at all (for `settle_participant_reachable`).
    let reached: Bool
    let message: String

    var description: String { message }
}
