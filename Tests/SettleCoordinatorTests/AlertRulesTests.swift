import Foundation
import SettleTestSupport
import Testing

/// deploy/prometheus/settle-alerts.yml is valid for Prometheus, and each alert fires on the
/// series that should raise it and not before its `for` (promtool, from Debian's prometheus).
@Suite struct AlertRulesTests {
    static var rules: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("deploy/prometheus")
    }

    @Test func theAlertRulesAreValidAndFireWhenTheyShould() throws {
        let check = try runExecutable(at: "/usr/bin/promtool", ["check", "rules", Self.rules.appendingPathComponent("settle-alerts.yml").path])
        #expect(check.status == 0, "\(check.output)\(check.errorOutput)")
        #expect(check.output.contains("SUCCESS: 5 rules found"), "\(check.output)")
        let test = try runExecutable(
            at: "/usr/bin/promtool", ["test", "rules", Self.rules.appendingPathComponent("settle-alerts.test.yml").path]
        )
        #expect(test.status == 0, "\(test.output)\(test.errorOutput)")
    }

    /// The metric names the rules ask for: WatchdogTests checks that settled exports each.
    static func metricNames() throws -> Set<String> {
        let text = try String(contentsOf: rules.appendingPathComponent("settle-alerts.yml"), encoding: .utf8)
        let expressions = text.split(separator: "\n").filter { $0.trimmingCharacters(in: .whitespaces).hasPrefix("expr:") }
        var names = Set<String>()
        for expression in expressions {
            for word in expression.split(whereSeparator: { !($0.isLetter || $0.isNumber || $0 == "_") }) where word.hasPrefix("settle_") {
                names.insert(String(word))
            }
        }
        return names
    }
}
