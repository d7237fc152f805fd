import SettleCore
import Testing

@Suite("gid format: settle:<coordinator-id>:<transfer-id>:<branch-index>")
struct BranchGIDTests {
    @Test func formatsAndParsesBack() throws {
        let gid = try BranchGID(coordinatorID: "coord-1", transferID: "tx_2026.11-25", branchIndex: 3)
        #expect(gid.description == "settle:coord-1:tx_2026.11-25:3")
        #expect(try BranchGID(parsing: gid.description) == gid)
        #expect(try BranchGID.prefix(coordinatorID: "coord-1") == "settle:coord-1:")
    }

    @Test func longestAllowedFitsPostgres() throws {
        let gid = try BranchGID(
            coordinatorID: String(repeating: "c", count: Limits.coordinatorIDBytesMax),
            transferID: String(repeating: "T", count: Limits.transferIDBytesMax),
            branchIndex: Limits.branchesPerTransferMax - 1
        )
        #expect(gid.description.utf8.count <= Limits.gidBytesMax)
    }

    @Test(arguments: [
        "",
        "settle:c:t",
        "settle:c:t:1:2",
        "xa:c:t:1",
        "settle::t:1",
        "settle:C:t:1",
        "settle:-c:t:1",
        "settle:c::1",
        "settle:c:_t:1",
        "settle:c:t t:1",
        "settle:c:t:01",
        "settle:c:t:+1",
        "settle:c:t:-1",
        "settle:c:t:32",
        "settle:c:tränsfer:1",
    ])
    func rejectsMalformed(_ text: String) {
        #expect(throws: GIDError.self) { try BranchGID(parsing: text) }
    }

    @Test func rejectsOverlongParts() {
        #expect(throws: GIDError.self) {
            try BranchGID(coordinatorID: "c", transferID: String(repeating: "t", count: Limits.transferIDBytesMax + 1), branchIndex: 0)
        }
        #expect(throws: GIDError.self) {
            try BranchGID(coordinatorID: String(repeating: "c", count: Limits.coordinatorIDBytesMax + 1), transferID: "t", branchIndex: 0)
        }
        #expect(throws: GIDError.self) { try BranchGID(parsing: String(repeating: "s", count: 200)) }
    }
}
