import GRPCCore
import Logging
import Metrics
import SettleCore
import SettleProtocol

/// Breaks deadlocks across participants, as Citus does: while transfers prepare, it asks every
/// participant which of this coordinator's branches wait for which, builds the wait-for graph of
/// transfers, and aborts the youngest transfer of every cycle. No single PostgreSQL sees such a
/// cycle (each database holds only its own edge), and a prepared branch never lets go by itself.
///
/// What it cannot see: cycles through another coordinator's branches or through rows locked
/// outside Settle. The participant's `actionLockTimeout` and the transfer's prepare deadline
/// bound those.
struct DeadlockDetector: Sendable {
    let coordinatorID: String
    let links: [String: ParticipantLink]
    let registry: TransferRegistry
    let abortRequests: AbortRequests
    /// Told of every deadlock across participants, for the adaptive prepare order.
    let contention: ContentionMemory
    let interval: Duration
    let callTimeout: Duration
    let logger: Logger

    /// Looks every `interval` while some transfer is preparing, until cancelled.
    func run() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            // Only a transfer in flight can be waiting (a cheap count, not a scan of the table).
            guard registry.inFlightCount > 0 else { continue }
            await look()
        }
    }

    private struct TransferKey: Hashable {
        let transferID: String
        let admission: Admission
    }

    func look() async {
        let edges = await waitEdges()
        guard !edges.isEmpty else { return }
        var graph = WaitForGraph<TransferKey>()
        var order: [TransferKey: VictimOrder] = [:]
        var holders: [TransferKey: Set<String>] = [:]
        for (waiting, blocking) in edges {
            guard let from = transfer(of: waiting, &order), let to = transfer(of: blocking, &order) else { continue }
            graph.add(waiting: from, holder: to)
            if to != from { holders[from, default: []].insert(to.transferID) }
        }
        let victims = graph.victims { first, second in (order[first] ?? .unknown) > (order[second] ?? .unknown) }
        for victim in victims {
            let others = (holders[victim] ?? []).sorted()
            let gives =
                order[victim]?.kind == .sagaGoingForward
                ? "this saga, the youngest that could give way, compensates" : "this, the younger, was aborted"
            let reason =
                others.isEmpty
                ? "deadlock: a branch waits for another branch of this transfer"
                : "deadlock with transfer \(others.joined(separator: ", ")) across participants; \(gives)"
            if !others.isEmpty { contention.noteDeadlock(among: participants(of: [victim.transferID] + others)) }
            if abortRequests.request(victim.transferID, victim.admission, reason: reason) {
                Counter(label: "settle_deadlocks_broken_total").increment()
                logger.notice("deadlock broken", metadata: ["transfer.id": "\(victim.transferID)", "reason": "\(reason)"])
            }
        }
    }

    private func participants(of transferIDs: [String]) -> Set<String> {
        Set(transferIDs.compactMap { registry.entry($0) }.flatMap { $0.spec.branches.map(\.participant) })
    }

    /// Which transfer of a cycle gives way: the youngest (submitted later; the transfer id orders
    /// two of the same millisecond) of those that still can. A transfer still preparing goes
    /// first: aborting it rolls back prepared work. A saga going forward only when its cycle holds
    /// none (it compensates branches that already committed; ignoring it, as before, left cycles
    /// of sagas standing until their deadlines). One already ending (committing, aborting,
    /// compensating) last: the request changes nothing, and its own ending will free what it holds.
    struct VictimOrder: Comparable {
        enum Kind: Int, Comparable {
            case ending, sagaGoingForward, preparing
            static func < (first: Kind, second: Kind) -> Bool { first.rawValue < second.rawValue }
        }

        let kind: Kind
        let submittedAt: Int64
        let transferID: String
        static let unknown = VictimOrder(kind: .ending, submittedAt: 0, transferID: "")

        init(kind: Kind, submittedAt: Int64, transferID: String) {
            self.kind = kind
            self.submittedAt = submittedAt
            self.transferID = transferID
        }

        init(_ status: TransferStatus, submittedAt: Int64, transferID: String) {
            let kind: Kind =
                switch status {
                case .preparing: .preparing
                case .saga: .sagaGoingForward
                default: .ending
                }
            self.init(kind: kind, submittedAt: submittedAt, transferID: transferID)
        }

        static func < (older: VictimOrder, younger: VictimOrder) -> Bool {
            (older.kind, older.submittedAt, older.transferID) < (younger.kind, younger.submittedAt, younger.transferID)
        }
    }

    /// The transfer a gid of this coordinator names, if the table knows that admission.
    private func transfer(of gid: String, _ order: inout [TransferKey: VictimOrder]) -> TransferKey? {
        guard let parsed = try? BranchGID(parsing: gid), parsed.coordinatorID == coordinatorID,
            let entry = registry.entry(parsed.transferID), entry.admission == parsed.admission
        else { return nil }
        let key = TransferKey(transferID: parsed.transferID, admission: parsed.admission)
        order[key] = VictimOrder(entry.status, submittedAt: entry.submittedAtMilliseconds, transferID: parsed.transferID)
        return key
    }

    /// Every participant's edges under this coordinator's prefix, asked concurrently, each call
    /// bounded: one that does not answer contributes nothing this time.
    private func waitEdges() async -> [(String, String)] {
        guard let prefix = try? BranchGID.prefix(coordinatorID: coordinatorID) else { return [] }
        var options = CallOptions.defaults
        options.timeout = callTimeout
        let prefixToAsk = prefix
        let callOptions = options
        return await withTaskGroup(of: [(String, String)].self) { group in
            for link in links.values {
                group.addTask {
                    let prefix = prefixToAsk
                    let options = callOptions
                    let response = try? await link.phaseTwo.waitsFor(.with { $0.gidPrefix = prefix }, metadata: link.metadata, options: options)
                    return (response?.edges ?? []).map { ($0.waitingGid, $0.blockingGid) }
                }
            }
            return await group.reduce(into: []) { $0 += $1 }
        }
    }
}
