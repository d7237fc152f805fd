import Foundation

/// A one-line progress bar for long work on a terminal, redrawn only when the percentage moves.
final class ProgressBar {
    private let label: String
    private var shownPercent = -1
    private let width = 30

    init(label: String) { self.label = label }

    func update(done: Int, total: Int) {
        let percent = total > 0 ? min(100, done * 100 / total) : 100
        guard percent != shownPercent else { return }
        shownPercent = percent
        let filled = percent * width / 100
        let bar = String(repeating: "#", count: filled) + String(repeating: " ", count: width - filled)
        let line = "\r\(label) [\(bar)] \(percent)%  \(megabytes(done)) / \(megabytes(total)) MiB"
        FileHandle.standardOutput.write(Data(line.utf8))
    }

    /// Clears the bar so the summary starts on a clean line.
    func finish() {
        guard shownPercent >= 0 else { return }
        FileHandle.standardOutput.write(Data("\r\u{1B}[K".utf8))
    }

    private func megabytes(_ bytes: Int) -> String {
        let tenths = bytes * 10 / (1 << 20)
        return "\(tenths / 10).\(tenths % 10)"
    }
}
