import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

struct CommandFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

func createDirectory(_ path: String) throws {
    if mkdir(path, 0o700) != 0 && errno != EEXIST {
        throw CommandFailure("cannot create \(path): \(String(cString: strerror(errno)))")
    }
}

var standardOutputIsTerminal: Bool { isatty(STDOUT_FILENO) == 1 }

func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}
