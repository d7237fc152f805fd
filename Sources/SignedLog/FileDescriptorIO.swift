#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A failed system call on a log or key file, naming the call, the file and the OS's reason.
public struct FileSystemError: Error, CustomStringConvertible {
    public let operation: String
    public let path: String
    public let errorNumber: Int32

    init(_ operation: String, path: String, errorNumber: Int32 = errno) {
        self.operation = operation
        self.path = path
        self.errorNumber = errorNumber
    }

    public var description: String { "\(operation) \(path): \(String(cString: strerror(errorNumber)))" }
}

/// Blocking POSIX file calls with their EINTR and short-transfer loops. Everything here blocks:
/// callers run it on the log's own threads, never on Swift concurrency's cooperative pool.
enum FileDescriptorIO {
    static func openFile(_ path: String, flags: Int32, mode: mode_t = 0o600) throws -> Int32 {
        let descriptor = open(path, flags | O_CLOEXEC, mode)
        guard descriptor >= 0 else { throw FileSystemError("open", path: path) }
        return descriptor
    }

    static func size(_ descriptor: Int32, path: String) throws -> Int {
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw FileSystemError("fstat", path: path) }
        return Int(status.st_size)
    }

    /// The whole file, refused when larger than `bytesMax`: a file's size is read from the disk,
    /// and a sparse file claiming a terabyte must be an error, not an allocation that fails.
    static func readAll(_ descriptor: Int32, path: String, bytesMax: Int) throws -> [UInt8] {
        let size = try size(descriptor, path: path)
        guard size <= bytesMax else {
            throw SignedLogError(.corrupted, "\(path) is \(size) bytes; no file Settle reads here is larger than \(bytesMax)")
        }
        return try read(descriptor, from: 0, count: size, path: path)
    }

    /// Reads up to `count` bytes at `offset`; fewer only if the file ends first.
    static func read(_ descriptor: Int32, from offset: Int, count: Int, path: String) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var done = 0
        try bytes.withUnsafeMutableBytes { buffer in
            while done < count {
                let result = pread(descriptor, buffer.baseAddress! + done, count - done, off_t(offset + done))
                if result < 0 {
                    if errno == EINTR { continue }
                    throw FileSystemError("pread", path: path)
                }
                if result == 0 { break }
                done += result
            }
        }
        bytes.removeLast(count - done)
        return bytes
    }

    static func writeAll(_ descriptor: Int32, _ bytes: [UInt8], at offset: Int, path: String) throws {
        var done = 0
        try bytes.withUnsafeBytes { buffer in
            while done < buffer.count {
                let result = pwrite(descriptor, buffer.baseAddress! + done, buffer.count - done, off_t(offset + done))
                if result < 0 {
                    if errno == EINTR { continue }
                    throw FileSystemError("pwrite", path: path)
                }
                done += result
            }
        }
    }

    static func syncData(_ descriptor: Int32, path: String) throws {
        guard fdatasync(descriptor) == 0 else { throw FileSystemError("fdatasync", path: path) }
    }

    static func syncAll(_ descriptor: Int32, path: String) throws {
        guard fsync(descriptor) == 0 else { throw FileSystemError("fsync", path: path) }
    }

    static func truncate(_ descriptor: Int32, to length: Int, path: String) throws {
        guard ftruncate(descriptor, off_t(length)) == 0 else { throw FileSystemError("ftruncate", path: path) }
    }

    /// Makes a file's creation, rename or removal in `directory` durable.
    static func syncDirectory(_ directory: String) throws {
        let descriptor = try openFile(directory, flags: O_RDONLY | O_DIRECTORY)
        defer { close(descriptor) }
        try syncAll(descriptor, path: directory)
    }

    static func renameFile(_ from: String, to: String) throws {
        guard rename(from, to) == 0 else { throw FileSystemError("rename to \(to)", path: from) }
    }

    static func remove(_ path: String) throws {
        guard unlink(path) == 0 else { throw FileSystemError("unlink", path: path) }
    }
}
