import SettleCore
import SignedLog

/// What each console page shows, as the values its template renders. Reads only the registry,
/// the activity history and the watchdog's latest reports, all in memory, so pages stay fast
/// with a hundred thousand transfers remembered; only a transfer's timeline reads the log.
struct ConsolePages: Sendable {
    let coordinatorID: String
    let registry: TransferRegistry
    let watchdog: InDoubtWatchdog
    let history: ActivityHistory
    let participants: [CoordinatorConfiguration.Participant]
    let fourEyes: Bool
    let watchdogIntervalMilliseconds: UInt32
    /// Read for one transfer's timeline, with the keys it trusts.
    let log: SignedLog

    static let pageSize = 50

    func overview() -> [String: Any] {
        let seconds = history.seconds
        let lastMinute = seconds.suffix(60)
        var latencies = LatencyBuckets()
        for second in lastMinute { latencies.add(second.latencies) }
        let finished = lastMinute.reduce(0) { $0 + $1.finished }
        let seals = lastMinute.reduce(0) { $0 + $1.seals }
        let records = lastMinute.reduce(0) { $0 + $1.records }
        let span = max(lastMinute.count, 1)
        return [
            "inFlight": registry.inFlightCount,
            "rate": ConsoleCharts.format(Double(finished) / Double(span)),
            "p50": latencies.quantileMilliseconds(0.5).map(ConsoleCharts.format) ?? "–",
            "p99": latencies.quantileMilliseconds(0.99).map(ConsoleCharts.format) ?? "–",
            "sealRate": ConsoleCharts.format(Double(seals) / Double(span)),
            "batchSize": seals == 0 ? "–" : ConsoleCharts.format(Double(records) / Double(seals)),
            "minutes": ActivityHistory.secondsKept / 60,
            "committed": seconds.reduce(0) { $0 + $1.committed }, "aborted": seconds.reduce(0) { $0 + $1.aborted },
            "compensated": seconds.reduce(0) { $0 + $1.compensated }, "stuckCount": seconds.reduce(0) { $0 + $1.stuck },
            "rateChart": ConsoleCharts.line([.init(values: seconds.map { Double($0.finished) })], unit: "/s"),
            "latencyChart": ConsoleCharts.line(
                [
                    .init(values: seconds.map { $0.latencies.quantileMilliseconds(0.5) }),
                    .init(values: seconds.map { $0.latencies.quantileMilliseconds(0.99) }, dashed: true),
                ],
                unit: "ms"
            ),
            "inFlightChart": ConsoleCharts.line([.init(values: seconds.map { Double($0.inFlight) })], unit: ""),
            "sealChart": ConsoleCharts.line(
                [
                    .init(values: seconds.map { Double($0.seals) }),
                    .init(values: seconds.map { $0.seals == 0 ? nil : Double($0.records) / Double($0.seals) }, dashed: true),
                ],
                unit: ""
            ),
            "participants": watchdog.latest.map { report in
                [
                    "name": report.participant, "reachable": report.reachable ? "yes" : "no", "inDoubt": report.branches.count,
                    "warnings": report.warnings(watchdog.thresholds).map(\.text).joined(separator: "; "),
                ] as [String: Any]
            },
            "refresh": 5,
        ]
    }

    struct TransferFilter: Sendable {
        var id = ""
        var state = ""
        var participant = ""
        var path = ""
        var minutes = ""
        var after = ""
    }

    func transfers(_ filter: TransferFilter, nowMilliseconds: Int64) -> [String: Any] {
        let statuses: Set<TransferStatus> = TransferStatus(rawValue: filter.state).map { [$0] } ?? []
        let from = Self.windowStart(minutes: filter.minutes, nowMilliseconds: nowMilliseconds)
        let page = registry.list(
            statuses: statuses, fromMilliseconds: from, toMilliseconds: nil, pageSize: Self.pageSize,
            after: filter.after.isEmpty ? nil : filter.after,
            matching: { transfer in
                (filter.participant.isEmpty || transfer.spec.branches.contains { $0.participant == filter.participant })
                    && (filter.path.isEmpty || transfer.finalPath == filter.path)
                    && (filter.id.isEmpty || transfer.spec.id.hasPrefix(filter.id))
            }
        )
        var next: String?
        if let token = page.nextToken {
            var query = filter
            query.after = token
            next = "/transfers?" + Self.query(query)
        }
        return [
            "filter": ["id": filter.id, "minutes": filter.minutes],
            "states": Self.options([""] + TransferStatus.allCases.map(\.rawValue), selected: filter.state),
            "participantOptions": Self.options([""] + participants.map(\.name), selected: filter.participant),
            "paths": Self.options(["", "2pc", "saga", "compensated", "heuristic", "manual"], selected: filter.path),
            "rows": page.entries.map { entry in
                [
                    "id": entry.spec.id, "link": ConsoleText.percentEncoded(entry.spec.id), "state": entry.status.rawValue,
                    "path": entry.finalPath ?? "", "submitted": ConsoleText.time(milliseconds: entry.submittedAtMilliseconds),
                    "submittedBy": entry.submittedBy ?? "",
                    "branches": entry.spec.branches.map { "\($0.participant) \($0.action)" }.joined(separator: ", "),
                ] as [String: Any]
            },
        ]
        .settingIfPresent("next", next)
    }

    func transfer(_ entry: TransferEntry, timeline: Result<TransferTimeline, any Error>?) -> [String: Any] {
        let branches = entry.spec.branches.enumerated().map { index, branch in
            let retry = entry.retries[index].map {
                "\($0.operation): \($0.attempts) attempts, next at \(ConsoleText.time(milliseconds: $0.nextAttemptAtMilliseconds))"
            }
            return [
                "index": index, "participant": branch.participant, "action": branch.action, "compensation": branch.compensation,
                "state": index < entry.branchStates.count ? entry.branchStates[index] : "", "retry": retry ?? "",
                "lastError": entry.lastErrors[index] ?? "",
            ] as [String: Any]
        }
        var values: [String: Any] = [
            "id": entry.spec.id, "link": ConsoleText.percentEncoded(entry.spec.id), "state": entry.status.rawValue,
            "submitted": ConsoleText.time(milliseconds: entry.submittedAtMilliseconds), "submittedBy": entry.submittedBy ?? "",
            "branches": branches, "canRetry": !entry.retries.isEmpty, "refresh": entry.status.isFinal ? 0 : 3,
        ]
        .settingIfPresent("path", entry.finalPath)
        .settingIfPresent("finished", entry.finishedAtMilliseconds.map(ConsoleText.time(milliseconds:)))
        .settingIfPresent("reason", entry.reason)
        .settingIfPresent("proposal", entry.proposal?.summary)
        switch timeline {
        case .success(let timeline):
            values["timeline"] = timeline.entries.map { record in
                [
                    "lsn": record.lsn, "time": ConsoleText.time(milliseconds: record.appendedAtNanoseconds / 1_000_000),
                    "type": record.type, "seal": record.sealNumber, "verifies": record.sealVerifies ? "verified" : "false",
                    "payload": record.payload,
                ] as [String: Any]
            }
        case .failure(let error):
            values["timelineError"] = "The log could not be read: \(error)"
        case nil:
            values["timelineError"] = "This transfer's ACCEPTED record is not known (a log from before it was kept)."
        }
        return values
    }

    func stuck() -> [String: Any] {
        let page = registry.list(
            statuses: [.stuck], fromMilliseconds: nil, toMilliseconds: nil, pageSize: 200, after: nil, matching: { _ in true }
        )
        return [
            "fourEyes": fourEyes,
            "rows": page.entries.map { entry in
                ([
                    "id": entry.spec.id, "link": ConsoleText.percentEncoded(entry.spec.id), "reason": entry.reason,
                    "branches": entry.spec.branches.enumerated().map { index, branch in
                        ([
                            "participant": branch.participant, "action": branch.action,
                            "state": index < entry.branchStates.count ? entry.branchStates[index] : "",
                        ] as [String: Any])
                        .settingIfPresent("lastError", entry.lastErrors[index])
                    },
                ] as [String: Any])
                .settingIfPresent("proposal", entry.proposal?.summary)
                .settingIfPresent("proposalReason", entry.proposal?.reason)
                .settingIfPresent("proposalOutcome", entry.proposal?.outcome.rawValue)
                .settingIfPresent("proposalOperator", entry.proposal?.operator)
            },
        ]
    }

    func inDoubt() -> [String: Any] {
        var prepared: [[String: Any]] = []
        for report in watchdog.latest {
            for branch in report.branches {
                var row: [String: Any] = [
                    "participant": report.participant, "gid": branch.gid, "age": ConsoleText.age(milliseconds: branch.ageMs),
                    "blocked": branch.blockedSessions,
                ]
                if let gid = try? BranchGID(parsing: branch.gid), gid.coordinatorID == coordinatorID,
                    let entry = registry.entry(gid.transferID)
                {
                    row["logSays"] = entry.admission == gid.admission ? entry.status.rawValue : "an earlier admission (roll back)"
                    row["link"] = ConsoleText.percentEncoded(entry.spec.id)
                } else {
                    row["logSays"] = "unknown here: presumed abort, the sweep rolls it back"
                }
                prepared.append(row)
            }
        }
        let retrying = registry.list(
            statuses: [.committing, .aborting, .compensating, .preparing, .saga], fromMilliseconds: nil, toMilliseconds: nil,
            pageSize: 200, after: nil, matching: \.hasRetries
        )
        let rows = retrying.entries.flatMap { entry in
            entry.retries.sorted { $0.key < $1.key }.filter { entry.spec.branches.indices.contains($0.key) }.map { index, retry in
                [
                    "id": entry.spec.id, "link": ConsoleText.percentEncoded(entry.spec.id),
                    "participant": entry.spec.branches[index].participant, "operation": retry.operation, "attempts": retry.attempts,
                    "next": ConsoleText.time(milliseconds: retry.nextAttemptAtMilliseconds), "lastError": entry.lastErrors[index] ?? "",
                ] as [String: Any]
            }
        }
        return [
            "prepared": prepared, "retrying": rows, "intervalSeconds": ConsoleCharts.format(Double(watchdogIntervalMilliseconds) / 1000),
            "refresh": 5,
        ]
    }

    func participantsPage() -> [String: Any] {
        let reports = Dictionary(uniqueKeysWithValues: watchdog.latest.map { ($0.participant, $0) })
        return [
            "rows": participants.map { participant in
                let report = reports[participant.name]
                return [
                    "name": participant.name, "address": participant.address,
                    "reachable": report.map { $0.reachable ? "yes" : "no: \($0.error ?? "")" } ?? "not asked yet",
                    "inDoubt": report?.branches.count ?? 0, "oldest": ConsoleText.age(milliseconds: report?.oldestAgeMilliseconds ?? 0),
                    "blocked": report?.blockedSessions ?? 0,
                    "slots": report.map { "\($0.preparedTransactions) of \($0.maxPreparedTransactions)" } ?? "",
                    "warnings": report?.warnings(watchdog.thresholds).map(\.text).joined(separator: "; ") ?? "",
                    "at": report.map { ConsoleText.time(milliseconds: $0.atMilliseconds) } ?? "",
                ] as [String: Any]
            },
            "refresh": 5,
        ]
    }

    /// The start of "the last N minutes", clamped to ten years; nil when no whole number is given.
    static func windowStart(minutes: String, nowMilliseconds: Int64) -> Int64? {
        guard let minutes = UInt32(minutes) else { return nil }
        let clamped = Int64(min(minutes, Self.windowMinutesMax))
        return nowMilliseconds.subtractingReportingOverflow(clamped * 60_000).partialValue
    }

    static let windowMinutesMax: UInt32 = 10 * 366 * 24 * 60

    private static func options(_ values: [String], selected: String) -> [[String: Any]] {
        values.map { ["value": $0, "label": $0.isEmpty ? "any" : $0, "selected": $0 == selected] }
    }

    private static func query(_ filter: TransferFilter) -> String {
        [
            ("id", filter.id), ("state", filter.state), ("participant", filter.participant), ("path", filter.path),
            ("minutes", filter.minutes), ("after", filter.after),
        ]
        .filter { !$0.1.isEmpty }
        .map { "\($0.0)=\(ConsoleText.percentEncoded($0.1))" }
        .joined(separator: "&")
    }
}

extension Dictionary where Key == String, Value == Any {
    /// Mustache shows a section for any value that is present, an empty string too: a value
    /// that is absent or empty is left out instead.
    func settingIfPresent(_ key: String, _ value: String?) -> [String: Any] {
        guard let value, !value.isEmpty else { return self }
        var copy = self
        copy[key] = value
        return copy
    }
}
