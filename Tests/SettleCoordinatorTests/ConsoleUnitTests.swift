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

    @Test func aSessionEndsWhenIdleOrTooOldAndTheLeastRecentlyUsedMakesRoom() {
        let sessions = ConsoleSessions(idleMinutes: 1)
        let first = sessions.start(client: "alice", now: 0)
        #expect(sessions.session(first.id, now: 59_000)?.client == "alice")
        #expect(sessions.session(first.id, now: 118_000)?.client == "alice", "each request restarts the idle clock")
        #expect(sessions.session(first.id, now: 178_001) == nil, "a minute without a request ends it")
        #expect(sessions.session("not-a-session", now: 0) == nil)

        let busy = ConsoleSessions(idleMinutes: 1440)
        let old = busy.start(client: "bob", now: 0)
        var now: Int64 = 0
        while now < ConsoleSessions.lifetimeMilliseconds {
            now += 3_600_000
            _ = busy.session(old.id, now: now - 1)
        }
        #expect(busy.session(old.id, now: ConsoleSessions.lifetimeMilliseconds) == nil, "however busy, it ends after 12 hours")

        let crowded = ConsoleSessions(idleMinutes: 60)
        let oldest = crowded.start(client: "a", now: 0)
        for index in 1..<ConsoleSessions.sessionsMax { _ = crowded.start(client: "c\(index)", now: Int64(index)) }
        _ = crowded.start(client: "one-too-many", now: 10_000)
        #expect(crowded.session(oldest.id, now: 10_001) == nil, "the least recently used session made room")
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
        var count = 0
        while count == 0, ContinuousClock.now - started < .seconds(10) {
            try await Task.sleep(for: .milliseconds(10))
            count = nudges.nudge("t-1")
        }
        #expect(count == 1, "one retry of t-1 was sleeping")
        try await woken
        #expect(ContinuousClock.now - started < .seconds(10), "t-1 woke long before its minute")
        try await untouched
        #expect(nudges.nudge("t-1") == 0 && nudges.nudge("t-2") == 0, "nobody is left waiting")
    }
}
