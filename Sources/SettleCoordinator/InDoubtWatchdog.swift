import GRPCCore
import Logging
import Metrics
import SettleCore
import SettleProtocol
import Synchronization

/// Looks at every participant's prepared branches under this coordinator's prefix at a fixed
/// interval: how many, the oldest one's age, the sessions blocked behind them, the prepared
/// slots in use. It exports them as metrics, warns in the log when a threshold is crossed, and
/// keeps the latest answers for the console's in-doubt and participants pages.
final class InDoubtWatchdog: Sendable {
    struct Thresholds: Sendable {
        var oldestPreparedSeconds: Int64
        var blockedSessions: Int
        var preparedSlotsPercent: Int
    }

    /// What one participant said at the last look (or why it could not be asked).
    struct Report: Sendable {
        var participant: String
        var reachable: Bool
        var error: String?
        var branches: [Settle_V1_InDoubtResponse.Branch] = []
        var maxPreparedTransactions = 0
        var preparedTransactions = 0
        var atMilliseconds: Int64

        var oldestAgeMilliseconds: Int64 { branches.map(\.ageMs).max() ?? 0 }
        var blockedSessions: Int { branches.reduce(0) { $0 + Int($1.blockedSessions) } }
        /// Warnings for the thresholds this report crosses.
        func warnings(_ thresholds: Thresholds) -> [Warning] {
            var warnings: [Warning] = []
            if !reachable { warnings.append(Warning(kind: "unreachable", text: "unreachable: \(error ?? "no answer")")) }
            if oldestAgeMilliseconds >= thresholds.oldestPreparedSeconds * 1000 {
                warnings.append(Warning(kind: "old", text: "a branch has been prepared for \(oldestAgeMilliseconds / 1000) s"))
            }
            if blockedSessions >= thresholds.blockedSessions {
                warnings.append(
                    Warning(kind: "blocking", text: "\(blockedSessions) sessions wait for locks held by prepared branches")
                )
            }
            if maxPreparedTransactions > 0, preparedTransactions * 100 >= maxPreparedTransactions * thresholds.preparedSlotsPercent {
                warnings.append(
                    Warning(
                        kind: "slots", text: "\(preparedTransactions) of \(maxPreparedTransactions) prepared-transaction slots in use"
                    )
                )
            }
            return warnings
        }
    }

    struct Warning: Sendable, Equatable {
        let kind: String
        let text: String

        static let kinds = ["unreachable", "old", "blocking", "slots"]
    }

    private let links: [String: ParticipantLink]
    private let prefix: String
    private let interval: Duration
    private let callTimeout: Duration
    let thresholds: Thresholds
    private let logger: Logger
    private let reports = Mutex<[String: Report]>([:])

    init(
        coordinatorID: String, links: [String: ParticipantLink], interval: Duration, callTimeout: Duration, thresholds: Thresholds,
        logger: Logger
    ) throws {
        self.links = links
        self.prefix = try BranchGID.prefix(coordinatorID: coordinatorID)
        self.interval = interval
        self.callTimeout = callTimeout
        self.thresholds = thresholds
        self.logger = logger
    }

    /// The latest report of each participant, by name.
    var latest: [Report] { reports.withLock { $0.values.sorted { $0.participant < $1.participant } } }

    func run() async {
        while !Task.isCancelled {
            await look()
            try? await Task.sleep(for: interval)
        }
    }

    /// Asks every participant now, concurrently; each call is bounded.
    func look() async {
        await withDiscardingTaskGroup { group in
            for link in links.values {
                group.addTask {
                    let report = await self.ask(link)
                    self.record(report)
                }
            }
        }
    }

    private func ask(_ link: ParticipantLink) async -> Report {
        var options = CallOptions.defaults
        options.timeout = callTimeout
        let now = WallClock.nowMilliseconds()
        do {
            // In-doubt branches first, slots second: a branch prepared between the two calls then
            // counts in the slots without being listed, never the other way round (a branch listed
            // as blocking a session while the slots said none were used).
            let inDoubt = try await link.phaseTwo.inDoubt(.with { $0.gidPrefix = prefix }, metadata: link.metadata, options: options)
            let health = try await link.phaseTwo.health(.init(), metadata: link.metadata, options: options)
            return Report(
                participant: link.name, reachable: true, branches: inDoubt.branches,
                maxPreparedTransactions: Int(health.maxPreparedTransactions), preparedTransactions: Int(health.preparedTransactions),
                atMilliseconds: now
            )
        } catch {
            return Report(participant: link.name, reachable: false, error: "\(error)".truncated(toUTF8Bytes: 512), atMilliseconds: now)
        }
    }

    private func record(_ report: Report) {
        let previous = reports.withLock { reports in
            defer { reports[report.participant] = report }
            return reports[report.participant]
        }
        let dimensions = [("participant", report.participant)]
        Gauge(label: "settle_watchdog_prepared_branches", dimensions: dimensions).record(report.branches.count)
        Gauge(label: "settle_watchdog_oldest_prepared_seconds", dimensions: dimensions).record(report.oldestAgeMilliseconds / 1000)
        Gauge(label: "settle_watchdog_blocked_sessions", dimensions: dimensions).record(report.blockedSessions)
        Gauge(label: "settle_watchdog_prepared_slots_used", dimensions: dimensions).record(report.preparedTransactions)
        Gauge(label: "settle_watchdog_prepared_slots_max", dimensions: dimensions).record(report.maxPreparedTransactions)
        Gauge(label: "settle_watchdog_reachable", dimensions: dimensions).record(report.reachable ? 1 : 0)
        let warnings = report.warnings(thresholds)
        for kind in Warning.kinds {
            let raised = warnings.contains { $0.kind == kind }
            Gauge(label: "settle_watchdog_warning", dimensions: dimensions + [("kind", kind)]).record(raised ? 1 : 0)
        }
        // Said once when a warning appears or changes, not at every look.
        if !warnings.isEmpty, previous?.warnings(thresholds).map(\.kind) != warnings.map(\.kind) {
            logger.warning(
                "in-doubt watchdog",
                metadata: ["participant": "\(report.participant)", "warnings": "\(warnings.map(\.text).joined(separator: "; "))"]
            )
        }
    }
}
