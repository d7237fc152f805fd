import Foundation
import SettleTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A participant's PostgreSQL runs out of disk: bank-b's postings live in a tablespace on a
/// small filesystem that fills. Its credits must then be refused (the transfers abort, nothing
/// half-applied), and once space is freed the same bank takes credits again.
@Suite("A participant's disk full", .timeLimit(.minutes(5)))
struct ParticipantDiskFullTests {
    @Test(.enabled(if: getuid() == 0, "mounting the tablespace's small filesystem needs root"))
    func creditsAreRefusedWhileTheDiskIsFullAndTakenAgainOnceFreed() async throws {
        try await withDeployment { deployment throws in
            let space = deployment.directory.subpath("bank-b-space")
            try FileManager.default.createDirectory(atPath: space, withIntermediateDirectories: true)
            let mounted = try runExecutable(at: "/usr/bin/mount", ["-t", "tmpfs", "-o", "size=256k", "tmpfs", space])
            #expect(mounted.status == 0, "\(mounted.errorOutput)")
            defer { _ = try? runExecutable(at: "/usr/bin/umount", ["-l", space]) }
            // Leave room for a few pages only; the filler is root's, so PostgreSQL cannot free it.
            let filler = space + "/filler"
            try writeBytes([UInt8](repeating: 0xAA, count: 256 * 1024 - 40 * 1024), to: filler)
            try await moveBankBPostings(deployment, to: space)

            var aborted: [String] = []
            var committed = 0
            for index in 0..<3000 where aborted.count < 3 {
                let transfer = try await deployment.client {
                    try await $0.submit(
                        id: "fill-\(index)", branches: Deployment.branches(amount: 1, fromA: true, account: index % 10), wait: true
                    )
                }
                #expect(transfer.state == .committed || transfer.state == .aborted, "\(transfer.state): \(transfer.reason)")
                if transfer.state == .aborted { aborted.append(transfer.reason) } else { committed += 1 }
            }
            #expect(committed > 0, "credits went through while there was room")
            #expect(aborted.count == 3, "the full disk refused credits")
            #expect(aborted.allSatisfy { $0.contains("No space left on device") || $0.contains("could not extend") }, "\(aborted)")

            try FileManager.default.removeItem(atPath: filler)
            let after = try await deployment.client {
                try await $0.submit(id: "after-freeing", branches: Deployment.branches(amount: 1, fromA: true, account: 3), wait: true)
            }
            #expect(after.state == .committed, "\(after.reason)")
            try await expectEveryInvariant(deployment)
        }
    }

    /// A tablespace on `space` (owned by the server's OS user, as PostgreSQL requires) holding
    /// bank-b's postings.
    private func moveBankBPostings(_ deployment: Deployment, to space: String) async throws {
        let pool = deployment.pools[1]
        let dataDirectory: String = try await pool.query("SELECT current_setting('data_directory') AS d")[0].decode(column: "d")
        let owner = try FileManager.default.attributesOfItem(atPath: dataDirectory)[.ownerAccountID] as? NSNumber
        try FileManager.default.setAttributes([.ownerAccountID: owner ?? 0, .posixPermissions: 0o700], ofItemAtPath: space)
        let name = "full_\(UInt32.random(in: 0...UInt32.max))"
        try await pool.query("CREATE TABLESPACE \(name) LOCATION '\(space)'")
        try await pool.query("ALTER TABLE postings SET TABLESPACE \(name)")
    }
}
