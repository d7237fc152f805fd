import SettleCore

/// The recovery log as the simulation needs it: records appended in order and sealed in order
/// (group commit seals a prefix), what is not sealed lost in a crash.
struct SimulatedLog {
    struct Record {
        let transfer: Int
        /// Nil: ACCEPTED.
        let entry: TransferLogEntry?
        /// Whether its seal is an event for the driver (recovery's own ABORT is not).
        let notifies: Bool
        let epoch: Int
        /// SAGA's sealed deadline (simulated milliseconds), as `settled` seals it.
        var sagaDeadline: Int? = nil
    }

    private(set) var records: [Record] = []
    private(set) var sealedCount = 0

    mutating func append(_ record: Record) -> Int {
        records.append(record)
        return records.count - 1
    }

    /// Seals every record up to `index`; returns those newly sealed.
    mutating func seal(through index: Int) -> ArraySlice<Record> {
        guard index >= sealedCount, index < records.count else { return [] }
        let newly = records[sealedCount...index]
        sealedCount = index + 1
        return newly
    }

    mutating func loseUnsealed() { records.removeLast(records.count - sealedCount) }

    func sealedEntries(of transfer: Int) -> [TransferLogEntry] {
        records[..<sealedCount].filter { $0.transfer == transfer }.compactMap(\.entry)
    }

    /// The deadline of the transfer's sealed SAGA, if it has one.
    func sealedSagaDeadline(of transfer: Int) -> Int? {
        records[..<sealedCount].last { $0.transfer == transfer && $0.entry == .saga }?.sagaDeadline
    }

    func isAccepted(_ transfer: Int) -> Bool {
        records[..<sealedCount].contains { $0.transfer == transfer && $0.entry == nil }
    }
}
