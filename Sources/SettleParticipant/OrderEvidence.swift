/// A verified phase-two order, kept in `settle_barrier` with the row the command caused
/// (`decision_lsn`, `decision_signature`), so an auditor can prove from the participant's
/// database alone that the coordinator's sealed decision ordered it.
struct OrderEvidence: Sendable, Equatable {
    let decisionLSN: UInt64
    let signature: [UInt8]

    /// As stored: PostgreSQL has no unsigned 64-bit integer, and LSNs never reach 2^63.
    var storedLSN: Int64 { Int64(truncatingIfNeeded: decisionLSN) }
}
