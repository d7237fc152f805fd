import Foundation
import Testing

@testable import SettleCoordinator

/// The console's pure parts, without a server: form decoding, sessions, CSRF tokens, latency
/// quantiles, text for pages and links, and the nudge that cuts a retry's backoff short.
@Suite struct ConsoleUnitTests {
    @Test func formFieldsArePercentDecodedAndBrokenEscapesDropped() {
        #expect(ConsoleForm.decoded("a+b%2Fc%3D%26") == "a b/c=&")
        #expect(ConsoleForm.decoded("%E2%82%AC") == "€")
        #expect(ConsoleForm.decoded("%4") == nil, "a truncated escape")
        #expect(ConsoleForm.decoded("%zz") == nil, "not hex")
        #expect(ConsoleForm.decoded("%FF") == nil, "not UTF-8")
    }

    @Test func aSessionEndsWhenIdleOrTooOld() throws {
        let sessions = ConsoleSessions(idleMinutes: 1)
        let first = try #require(sessions.start(client: "alice", now: 0))
        #expect(sessions.session(first.id, now: 59_000)?.client == "alice")
        #expect(sessions.session(first.id, now: 118_000)?.client == "alice", "each request restarts the idle clock")
        #expect(sessions.session(first.id, now: 178_001) == nil, "a minute without a request ends it")
        #expect(sessions.session("not-a-session", now: 0) == nil)

        let busy = ConsoleSessions(idleMinutes: 1440)
        let old = try #require(busy.start(client: "bob", now: 0))
        var now: Int64 = 0
        while now < ConsoleSessions.lifetimeMilliseconds {
            now += 3_600_000
            _ = busy.session(old.id, now: now - 1)
        }
        #expect(busy.session(old.id, now: ConsoleSessions.lifetimeMilliseconds) == nil, "however busy, it ends after 12 hours")

    }

    /// A client logging in again and again (a script, or a read-only token in the wrong hands) must
    /// end only its own sessions, never an operator's.
    @Test func aClientLoggingInAgainAndAgainEndsOnlyItsOwnSessions() throws {
        let sessions = ConsoleSessions(idleMinutes: 60)
        let operatorSession = try #require(sessions.start(client: "operator", now: 0))
        var reporter: [ConsoleSessions.Session] = []
        for index in 1...(ConsoleSessions.sessionsMax + 10) {
            reporter.append(try #require(sessions.start(client: "reporter", now: Int64(index))))
        }
        #expect(sessions.session(operatorSession.id, now: 5_000)?.client == "operator")
        let live = reporter.map { sessions.session($0.id, now: 5_000, touching: false) != nil }
        #expect(live.filter { $0 }.count == ConsoleSessions.sessionsPerClientMax)
        #expect(live.suffix(ConsoleSessions.sessionsPerClientMax).allSatisfy { $0 }, "the client keeps its newest sessions")

        let crowded = ConsoleSessions(idleMinutes: 60)
        let clients = ConsoleSessions.sessionsMax / ConsoleSessions.sessionsPerClientMax
        for client in 0..<clients {
            for index in 0..<ConsoleSessions.sessionsPerClientMax { _ = crowded.start(client: "c\(client)", now: Int64(index)) }
        }
        #expect(crowded.start(client: "one-too-many", now: 100) == nil, "a full console refuses, rather than end another client's session")
        #expect(crowded.start(client: "c0", now: 100) != nil, "a client at its own limit still ends its own oldest")
    }

    @Test func theLastMinutesFilterCannotOverflow() {
        let now: Int64 = 1_796_528_606_596
        #expect(ConsolePages.windowStart(minutes: "5", nowMilliseconds: now) == now - 300_000)
        #expect(ConsolePages.windowStart(minutes: "", nowMilliseconds: now) == nil)
        #expect(ConsolePages.windowStart(minutes: "-5", nowMilliseconds: now) == nil)
        #expect(ConsolePages.windowStart(minutes: "999999999999999999", nowMilliseconds: now) == nil, "not a UInt32: ignored")
        let longest = ConsolePages.windowStart(minutes: "\(UInt32.max)", nowMilliseconds: now)
        #expect(longest == now - Int64(ConsolePages.windowMinutesMax) * 60_000, "clamped to ten years")
        #expect(ConsolePages.windowStart(minutes: "\(UInt32.max)", nowMilliseconds: .min) != nil, "and it never traps")
    }

    @Test func refreshesDoNotKeepASessionAlive() throws {
        let sessions = ConsoleSessions(idleMinutes: 1)
        let session = try #require(sessions.start(client: "alice", now: 0))
        #expect(sessions.session(session.id, now: 50_000, touching: false) != nil)
        #expect(sessions.session(session.id, now: 61_000, touching: false) == nil, "only the operator's own requests count")
    }

    @Test func aNudgeWhileNoRetrySleepsEndsTheNextSleep() async throws {
        let nudges = RetryNudges()
        #expect(nudges.nudge("t-1") == 0)
        let started = ContinuousClock.now
        try await nudges.sleep("t-1", for: .seconds(60), clock: SystemDriverClock())
        #expect(ContinuousClock.now - started < .seconds(10), "the pending nudge ended it at once")
        #expect(nudges.nudge("t-2") == 0)
        nudges.forget("t-2")
        let untouched = ContinuousClock.now
        try await nudges.sleep("t-2", for: .milliseconds(200), clock: SystemDriverClock())
        #expect(ContinuousClock.now - untouched >= .milliseconds(200), "a forgotten nudge wakes nobody")
    }

    @Test func anApproverMustApproveTheProposalTheyWereShown() throws {
        let shown = ResolutionProposal(outcome: .compensated, reason: "refunded by hand", operator: "alice")
        try OperatorActions.check(shown, against: shown)
        try OperatorActions.check(nil, against: shown)
        for changed in [
            ResolutionProposal(outcome: .committed, reason: "refunded by hand", operator: "alice"),
            ResolutionProposal(outcome: .compensated, reason: "other", operator: "alice"),
            ResolutionProposal(outcome: .compensated, reason: "refunded by hand", operator: "carol"),
        ] {
            let refusal = #expect(throws: OperatorActions.Refusal.self) { try OperatorActions.check(shown, against: changed) }
            #expect(refusal?.description.contains("changed since you looked") == true)
        }
    }

    @Test func theGateAdmitsUpToItsLimit() {
        let gate = ConcurrencyGate(limit: 2)
        #expect(gate.enter() && gate.enter())
        #expect(!gate.enter(), "a third is refused")
        gate.leave()
        #expect(gate.enter())
    }

    @Test func tokensAreRandomHexAndCompareExactly() {
        let first = ConsoleSessions.randomToken()
        let second = ConsoleSessions.randomToken()
        #expect(first.count == 64 && first.allSatisfy(\.isHexDigit))
        #expect(first != second)
        #expect(ConsoleSessions.tokensMatch(first, first))
        #expect(!ConsoleSessions.tokensMatch(first, second))
        #expect(!ConsoleSessions.tokensMatch("", first), "a missing token never matches")
        #expect(!ConsoleSessions.tokensMatch(String(first.dropLast()), first))
    }

    @Test func latencyQuantilesFallInTheRightBucket() {
        var buckets = LatencyBuckets()
        #expect(buckets.quantileMilliseconds(0.5) == nil)
        for _ in 0..<98 { buckets.record(.milliseconds(2)) }
        buckets.record(.milliseconds(500))
        buckets.record(.seconds(3))
        let p50 = buckets.quantileMilliseconds(0.5) ?? 0
        let p99 = buckets.quantileMilliseconds(0.99) ?? 0
        #expect(p50 >= 2 && p50 < 2.5, "\(p50)")
        #expect(p99 >= 500 && p99 < 625, "\(p99)")
        #expect(buckets.quantileMilliseconds(1) ?? 0 >= 3000)
        var tiny = LatencyBuckets()
        tiny.record(.zero)
        tiny.record(.seconds(3600))
        #expect(tiny.total == 2, "out-of-range latencies land in the first and last buckets")
    }

    @Test func pagesWriteTimesAgesAndLinksSafely() {
        #expect(ConsoleText.time(milliseconds: 1_796_528_606_596) == "2026-12-06 03:43:26.596Z")
        #expect(ConsoleText.time(milliseconds: 5) == "1970-01-01 00:00:00.005Z")
        #expect(ConsoleText.age(milliseconds: 999) == "999 ms")
        #expect(ConsoleText.age(milliseconds: 90_000) == "90 s")
        #expect(ConsoleText.age(milliseconds: 3_600_000) == "60 min")
        #expect(ConsoleText.age(milliseconds: 7_200_000) == "2 h")
        #expect(ConsoleText.percentEncoded("t-1_a.b~") == "t-1_a.b~")
        #expect(ConsoleText.percentEncoded("a b&c=<é>") == "a%20b%26c%3D%3C%C3%A9%3E")
        #expect(ConsoleForm.decoded(Substring(ConsoleText.percentEncoded("x/y?z#€"))) == "x/y?z#€")
    }

    /// A quote followed by a combining mark is one Character to Swift, but a browser still ends
    /// an attribute at the quote: escaping must look at each Unicode scalar.
    @Test func aQuoteWithACombiningMarkIsEscapedToo() throws {
        let hostile = "\"\u{301} autofocus form=x <b>"
        let page = try #require(
            try ConsoleTemplates.library().render(["user": true, "csrf": hostile, "coordinator": "c", "text": hostile], withTemplate: "message")
        )
        #expect(page.contains("value=\"&quot;\u{301} autofocus form=x &lt;b&gt;\""), "the attribute keeps the whole value")
        #expect(!page.contains("<b>"))
    }

    @Test func chartsAreDrawnFromNumbersOnly() {
        let svg = ConsoleCharts.line([.init(values: [0, 5, nil, 10]), .init(values: [1, 2], dashed: true)], unit: "ms")
        #expect(svg.hasPrefix("<svg") && svg.hasSuffix("</svg>"))
        #expect(svg.contains("10 ms"), "scaled to the largest value")
        #expect(svg.components(separatedBy: "<polyline").count == 3)
        #expect(svg.contains("stroke-dasharray"))
        #expect(ConsoleCharts.format(.nan) == "0")
        #expect(ConsoleCharts.format(2.25) == "2.3" || ConsoleCharts.format(2.25) == "2.2")
    }

    @Test func aNudgeCutsARetrysBackoffShortAndOnlyForItsTransfer() async throws {
        let nudges = RetryNudges()
        let started = ContinuousClock.now
        async let woken: Void = nudges.sleep("t-1", for: .seconds(60), clock: SystemDriverClock())
        async let untouched: Void = nudges.sleep("t-2", for: .milliseconds(300), clock: SystemDriverClock())
        // Asleep already (woken) or about to be (pending): either way the minute is cut short.
        try await Task.sleep(for: .milliseconds(50))
        _ = nudges.nudge("t-1")
        try await woken
        #expect(ContinuousClock.now - started < .seconds(10), "t-1 woke long before its minute")
        try await untouched
        #expect(ContinuousClock.now - started >= .milliseconds(300), "t-2 slept its whole backoff")
    }
}
