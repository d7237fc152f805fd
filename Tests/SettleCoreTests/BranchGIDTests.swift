import SettleCore
import Testing

@Suite("gid format: settle:<coordinator-id>:<epoch>:<nonce>:<transfer-id>:<branch-index>")
struct BranchGIDTests {
    let admission = try! Admission(epoch: 1, nonce: 0x00ab_cdef_0123_4567)

    @Test func formatsAndParsesBack() throws {
        let gid = try BranchGID(coordinatorID: "coord-1", admission: admission, transferID: "tx_2026.11-25", branchIndex: 3)
        #expect(gid.description == "settle:coord-1:1:00abcdef01234567:tx_2026.11-25:3")
        #expect(try BranchGID(parsing: gid.description) == gid)
        #expect(try BranchGID.prefix(coordinatorID: "coord-1") == "settle:coord-1:")
    }

    @Test func longestAllowedFitsPostgres() throws {
        let gid = try BranchGID(
            coordinatorID: String(repeating: "c", count: Limits.coordinatorIDBytesMax),
            admission: try Admission(epoch: .max, nonce: .max),
            transferID: String(repeating: "T", count: Limits.transferIDBytesMax),
            branchIndex: Limits.branchesPerTransferMax - 1
        )
        #expect(gid.description.utf8.count == BranchGID.bytesMax)
        #expect(BranchGID.bytesMax <= Limits.gidBytesMax)
        #expect(try BranchGID(parsing: gid.description) == gid)
    }

    /// The bug this format fixes: a forgotten transfer id submitted again must not name the first
    /// admission's branches.
    @Test func twoAdmissionsOfOneTransferIDNeverShareAGid() throws {
        let first = Admission.random()
        let second = Admission.random()
        #expect(first != second)
        let gids = try [first, second].map {
            try BranchGID(coordinatorID: "c", admission: $0, transferID: "t-1", branchIndex: 0).description
        }
        #expect(gids[0] != gids[1])
    }

    @Test(arguments: [
        "",
        "settle:c:t:1",
        "settle:c:1:0000000000000001:t",
        "settle:c:1:0000000000000001:t:1:2",
        "xa:c:1:0000000000000001:t:1",
        "settle::1:0000000000000001:t:1",
        "settle:C:1:0000000000000001:t:1",
        "settle:-c:1:0000000000000001:t:1",
        "settle:c:1:0000000000000001::1",
        "settle:c:1:0000000000000001:_t:1",
        "settle:c:1:0000000000000001:t t:1",
        "settle:c:1:0000000000000001:t:01",
        "settle:c:1:0000000000000001:t:+1",
        "settle:c:1:0000000000000001:t:-1",
        "settle:c:1:0000000000000001:t:32",
        "settle:c:1:0000000000000001:tränsfer:1",
        "settle:c:0:0000000000000001:t:1",
        "settle:c:01:0000000000000001:t:1",
        "settle:c:4294967296:0000000000000001:t:1",
        "settle:c:1:000000000000001:t:1",
        "settle:c:1:00000000000000001:t:1",
        "settle:c:1:000000000000000A:t:1",
        "settle:c:1:+000000000000001:t:1",
    ])
    func rejectsMalformed(_ text: String) {
        #expect(throws: GIDError.self) { try BranchGID(parsing: text) }
    }

    @Test func rejectsOverlongParts() {
        #expect(throws: GIDError.self) {
            try BranchGID(
                coordinatorID: "c", admission: admission, transferID: String(repeating: "t", count: Limits.transferIDBytesMax + 1),
                branchIndex: 0
            )
        }
        #expect(throws: GIDError.self) {
            try BranchGID(
                coordinatorID: String(repeating: "c", count: Limits.coordinatorIDBytesMax + 1), admission: admission, transferID: "t",
                branchIndex: 0
            )
        }
        #expect(throws: GIDError.self) { try BranchGID(parsing: String(repeating: "s", count: 200)) }
        #expect(throws: GIDError.self) { try Admission(epoch: 0, nonce: 1) }
    }
}
