import PropertyBased
import SettleCore
import Testing

/// protocol/gid.md's grammar, as properties over generated inputs rather than examples.
@Suite("Gids, as properties")
struct GIDPropertyTests {
    static let lowerAlphanumerics = Array("abcdefghijklmnopqrstuvwxyz0123456789")
    static let alphanumerics = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")

    /// An identifier drawn by `picks`: its first character from `first`, the others from
    /// `first + rest` (each pick taken modulo the alphabet).
    static func identifier(_ picks: [Int], first: [Character], rest: [Character]) -> String {
        let others = first + rest
        return String(picks.enumerated().map { index, pick in index == 0 ? first[pick % first.count] : others[pick % others.count] })
    }

    static func coordinatorID(_ picks: [Int]) -> String { identifier(picks, first: lowerAlphanumerics, rest: ["-"]) }
    static func transferID(_ picks: [Int]) -> String { identifier(picks, first: alphanumerics, rest: [".", "_", "-"]) }
    static let picks = Gen<Int>.value(in: 0...1000)

    @Test func everyValidGIDRoundTripsThroughItsText() async {
        await propertyCheck(
            count: 500, input: Self.picks.array(of: 1...Limits.coordinatorIDBytesMax), Gen<UInt32>.value(in: 1...UInt32.max),
            Self.picks.array(of: 1...Limits.transferIDBytesMax), Gen<Int>.value(in: 0...(Limits.branchesPerTransferMax - 1))
        ) { coordinatorPicks, epoch, transferPicks, branch in
            let coordinatorID = Self.coordinatorID(coordinatorPicks)
            let admission = try Admission(epoch: epoch, nonce: UInt64(epoch) &* 0x9E37_79B9_7F4A_7C15)
            let gid = try BranchGID(
                coordinatorID: coordinatorID, admission: admission, transferID: Self.transferID(transferPicks), branchIndex: branch
            )
            let text = gid.description
            #expect(text.utf8.count <= BranchGID.bytesMax)
            let parsed = try BranchGID(parsing: text)
            #expect(parsed == gid)
            #expect(parsed.description == text, "one spelling per gid")
            #expect(text.hasPrefix(try BranchGID.prefix(coordinatorID: coordinatorID)))
        }
    }

    /// Any single character changed to a colon, a space or an upper-case letter either still
    /// parses to a gid that prints as the changed text, or is refused: no text parses to a gid
    /// that prints differently.
    @Test func noOtherSpellingParses() async {
        await propertyCheck(
            count: 500, input: Self.picks.array(of: 1...Limits.coordinatorIDBytesMax), Gen<UInt32>.value(in: 1...UInt32.max),
            Self.picks.array(of: 1...Limits.transferIDBytesMax), Gen<Int>.value(in: 0...400)
        ) { coordinatorPicks, epoch, transferPicks, position in
            let text = try BranchGID(
                coordinatorID: Self.coordinatorID(coordinatorPicks), admission: try Admission(epoch: epoch, nonce: UInt64(epoch)),
                transferID: Self.transferID(transferPicks), branchIndex: 1
            ).description
            var characters = Array(text)
            let index = position % characters.count
            for replacement: Character in [":", " ", "X", "0"] {
                characters[index] = replacement
                let changed = String(characters)
                if let parsed = try? BranchGID(parsing: changed) {
                    #expect(parsed.description == changed, "\(changed) parsed as \(parsed)")
                }
            }
        }
    }
}
