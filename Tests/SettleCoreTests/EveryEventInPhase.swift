import SettleCore
import Testing

/// Tries every event on a fresh copy of a machine in `phase`: an accepted event must give exactly
/// its listed action; any other must be rejected and leave the machine unchanged.
func checkEveryEvent<Machine: Equatable, Action: Equatable>(
    in phase: String, fixture: (String) throws -> Machine,
    events: [String: @Sendable (inout Machine) throws -> Action], accepted: [String: Action]
) throws {
    for (eventName, event) in events.sorted(by: { $0.key < $1.key }) {
        var machine = try fixture(phase)
        let before = machine
        if let expected = accepted[eventName] {
            #expect(try event(&machine) == expected, "\(eventName) in \(phase)")
        } else {
            #expect(throws: TransitionError.self, "\(eventName) in \(phase) must be rejected") { try event(&machine) }
            #expect(machine == before, "a rejected \(eventName) must not change the machine in \(phase)")
        }
    }
}
