import Foundation
import SettleTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The coordinator's disk failing under it: an `fdatasync` that fails (EIO, injected) and a log
/// filesystem that fills up (a size-limited tmpfs). settled must stop with exit status 74 and a
/// line naming the log directory and the error, having acted on nothing its log did not seal;
/// once the disk is healthy again a restart recovers with every invariant.
@Suite("The log's disk failing", .timeLimit(.minutes(5)))
struct LogDiskFaultTests {
    @Test func aFailingFsyncStopsSettledBeforeItActsAndARestartRecovers() async throws {
        try await withDeployment(startsSettled: false) { deployment throws in
            try deployment.startSettled(environment: ["SETTLE_LOG_FSYNC_FAILS_AFTER": "7"])
            let submitted = try await submitUntilSettledStops(deployment)
            try await expectStoppedForItsLog(deployment, error: "Input/output error")
            try await expectNothingActedOnUnsealed(deployment, transfers: submitted)
            try deployment.startSettled()
            try await expectEveryInvariant(deployment)
        }
    }

    /// Needs root to mount the small filesystem the log fills.
    @Test(.enabled(if: getuid() == 0, "mounting the log's small filesystem needs root"))
    func aFullLogDiskStopsSettledAndARestartAfterFreeingSpaceRecovers() async throws {
        try await withDeployment(startsSettled: false) { deployment throws in
            try FileManager.default.createDirectory(atPath: deployment.logDirectory, withIntermediateDirectories: true)
            try mount(deployment.logDirectory, options: "size=96k,mode=0750")
            defer { _ = try? runExecutable(at: "/usr/bin/umount", ["-l", deployment.logDirectory]) }
            try deployment.startSettled()
            let submitted = try await submitUntilSettledStops(deployment)
            #expect(submitted.count > 3, "the disk filled only after some transfers")
            try await expectStoppedForItsLog(deployment, error: "No space left on device")
            try await expectNothingActedOnUnsealed(deployment, transfers: submitted)

            try mount(deployment.logDirectory, options: "remount,size=8m")
            try deployment.startSettled()
            try await expectEveryInvariant(deployment)
        }
    }

    private func mount(_ path: String, options: String) throws {
        let mounted = try runExecutable(at: "/usr/bin/mount", ["-t", "tmpfs", "-o", options, "tmpfs", path])
        guard mounted.status == 0 else { throw TestFailure("mount \(options) \(path): \(mounted.errorOutput)") }
    }

    /// Transfers one after another until one is refused because settled is gone; their ids.
    private func submitUntilSettledStops(_ deployment: Deployment) async throws -> [String] {
        var submitted: [String] = []
        for index in 0..<2000 {
            let id = "t-\(index)"
            submitted.append(id)
            do {
                _ = try await deployment.client {
                    try await $0.submit(id: id, branches: Deployment.branches(amount: 1, fromA: index % 2 == 0, account: index % 10), wait: true)
                }
            } catch {
                return submitted
            }
        }
        throw TestFailure("settled never stopped")
    }

    private func expectStoppedForItsLog(_ deployment: Deployment, error: String) async throws {
        let settled = try #require(deployment.settled)
        #expect(try await settled.waitForExit(timeout: .seconds(30)), "settled stopped")
        #expect(settled.process.terminationStatus == 74, "exit status 74 (EX_IOERR), not \(settled.process.terminationStatus)")
        let errors = (try? String(contentsOfFile: settled.errorLogPath, encoding: .utf8)) ?? ""
        #expect(errors.contains("the recovery log in \(deployment.logDirectory) failed"), "\(errors.suffix(600))")
        #expect(errors.contains(error), "\(errors.suffix(600))")
    }

    /// With settled stopped: no branch of any transfer is posted unless the log holds its sealed
    /// COMMIT — the batch whose sync failed was cut away and nothing acted on it.
    private func expectNothingActedOnUnsealed(_ deployment: Deployment, transfers: [String]) async throws {
        let dump = try run("settle", ["audit", "dump", "--log", deployment.logDirectory])
        #expect(dump.status == 0, "\(dump.errorOutput)")
        for id in transfers where try await deployment.postingCounts(id).contains(where: { $0 > 0 }) {
            #expect(hasRecord(dump.output, "COMMIT", #""transfer":"\#(id)""#), "\(id) is posted without a sealed COMMIT")
        }
    }
}
