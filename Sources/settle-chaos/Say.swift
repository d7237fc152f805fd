import Foundation

/// Writes one line to standard output at once: progress must reach a log file or CI as it
/// happens, not when a buffer fills (print is block-buffered when output is not a terminal).
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
