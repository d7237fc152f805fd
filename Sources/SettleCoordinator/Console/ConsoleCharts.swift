/// Line charts as inline SVG, drawn by the server from numbers only: no script, no external
/// library, nothing a browser has to fetch.
enum ConsoleCharts {
    struct Series {
        let values: [Double?]
        var dashed = false
    }

    static let width = 480
    static let height = 140

    /// One or more series over the same seconds, scaled to the largest value; gaps where nil.
    static func line(_ series: [Series], unit: String) -> String {
        let top = max(series.flatMap { $0.values.compactMap { $0 } }.max() ?? 0, 1)
        let count = max(series.map(\.values.count).max() ?? 0, 2)
        let plotHeight = Double(height - 20)
        var svg = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(width)" height="\(height)" viewBox="0 0 \(width) \(height)" role="img">
            <rect x="0" y="0" width="\(width)" height="\(height)" fill="#f7f9fc" stroke="#dde"/>
            <text x="4" y="12" font-size="10" fill="#556">\(format(top)) \(unit)</text>
            <text x="4" y="\(height - 4)" font-size="10" fill="#556">0</text>
            """
        for (index, line) in series.enumerated() {
            var points: [String] = []
            for (position, value) in line.values.enumerated() {
                guard let value else { continue }
                let x = Double(position) * Double(width - 1) / Double(count - 1)
                let y = 16 + plotHeight * (1 - value / top)
                points.append("\(format(x)),\(format(y))")
            }
            let colour = ["#1d3557", "#e76f51", "#2a9d8f"][index % 3]
            let dash = line.dashed ? " stroke-dasharray=\"4 3\"" : ""
            svg += "<polyline fill=\"none\" stroke=\"\(colour)\" stroke-width=\"1.5\"\(dash) points=\"\(points.joined(separator: " "))\"/>"
        }
        return svg + "</svg>"
    }

    /// One decimal, without Foundation's formatter.
    static func format(_ value: Double) -> String {
        guard value.isFinite else { return "0" }
        let tenths = Int((value * 10).rounded())
        return tenths % 10 == 0 ? "\(tenths / 10)" : "\(tenths / 10).\(abs(tenths % 10))"
    }
}
