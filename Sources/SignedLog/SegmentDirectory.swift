import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The files of a log directory: segments named by their 20-digit number, their torn tails, and
/// the lock that keeps a second writer out.
struct SegmentDirectory: SegmentSource, Sendable {
    let path: String

    static func segmentName(_ number: UInt64) -> String {
        String(number).leftPadded(to: LogFormat.segmentNameDigits) + LogFormat.segmentFileSuffix
    }

    func segmentPath(_ number: UInt64) -> String { path + "/" + Self.segmentName(number) }

    /// The segment numbers present, ascending, after checking they run from 0 without a gap: a
    /// missing segment is missing history.
    func segmentNumbers() throws -> [UInt64] {
        let names = try fileNames()
        var numbers: [UInt64] = []
        for name in names where name.hasSuffix(LogFormat.segmentFileSuffix) {
            let stem = name.dropLast(LogFormat.segmentFileSuffix.count)
            guard stem.count == LogFormat.segmentNameDigits, stem.allSatisfy(\.isASCII), let number = UInt64(stem) else {
                throw SignedLogError(.corrupted, "\(path) holds \(name), which is not a segment name")
            }
            numbers.append(number)
        }
        return try Self.checkedContiguous(numbers, in: path)
    }

    func tornTailFiles() throws -> [String] {
        try fileNames().filter { $0.contains(".torn-") }.sorted()
    }

    func fileNames() throws -> [String] {
        do {
            return try FileManager.default.contentsOfDirectory(atPath: path)
        } catch {
            throw SignedLogError(.fileSystem, "cannot list log directory \(path): \(error.localizedDescription)")
        }
    }

    func readHeader(of number: UInt64) throws -> SegmentHeader {
        let segmentPath = segmentPath(number)
        let descriptor = try FileDescriptorIO.openFile(segmentPath, flags: O_RDONLY)
        defer { close(descriptor) }
        var bytes = try FileDescriptorIO.read(
            descriptor, from: 0, count: LogFormat.segmentHeaderByteCountMin, path: segmentPath
        )
        if let stated = SegmentHeader.statedByteCount(bytes), stated > bytes.count {
            bytes = try FileDescriptorIO.read(descriptor, from: 0, count: stated, path: segmentPath)
        }
        return try checkedHeader(bytes, number: number)
    }

    func totalByteCount(of numbers: [UInt64]) throws -> Int {
        try numbers.reduce(0) { total, number in
            let path = segmentPath(number)
            let descriptor = try FileDescriptorIO.openFile(path, flags: O_RDONLY)
            defer { close(descriptor) }
            return total + (try FileDescriptorIO.size(descriptor, path: path))
        }
    }

    /// The whole segment file, read only.
    func readSegment(_ number: UInt64) throws -> [UInt8] {
        let path = segmentPath(number)
        let descriptor = try FileDescriptorIO.openFile(path, flags: O_RDONLY)
        defer { close(descriptor) }
        return try FileDescriptorIO.readAll(descriptor, path: path, bytesMax: LogFormat.segmentBytesMax)
    }

    /// Creates a segment holding only `header`, so that a crash never leaves a half-written
    /// header under a segment's name: write a temporary file, fsync it, rename, fsync the
    /// directory. Returns the open descriptor.
    func createSegment(_ header: SegmentHeader) throws -> Int32 {
        let finalPath = segmentPath(header.segmentNumber)
        let temporaryPath = finalPath + ".creating"
        unlink(temporaryPath)
        let descriptor = try FileDescriptorIO.openFile(temporaryPath, flags: O_RDWR | O_CREAT | O_EXCL, mode: 0o640)
        do {
            try FileDescriptorIO.writeAll(descriptor, header.encoded(), at: 0, path: temporaryPath)
            try FileDescriptorIO.syncAll(descriptor, path: temporaryPath)
            try FileDescriptorIO.renameFile(temporaryPath, to: finalPath)
            try FileDescriptorIO.syncDirectory(path)
        } catch {
            close(descriptor)
            throw error
        }
        return descriptor
    }

    func removeUnfinishedCreations() throws {
        for name in try fileNames() where name.hasSuffix(".creating") {
            try FileDescriptorIO.remove(path + "/" + name)
        }
    }

    /// Takes the directory's exclusive lock (flock on `LOCK`), held until the descriptor closes,
    /// which the kernel also does when the process dies: a crashed writer never blocks recovery.
    func lock() throws -> Int32 {
        let lockPath = path + "/LOCK"
        let descriptor = try FileDescriptorIO.openFile(lockPath, flags: O_RDWR | O_CREAT, mode: 0o600)
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let reason = errno
            close(descriptor)
            if reason == EWOULDBLOCK {
                throw SignedLogError(.inUse, "another process has the log \(path) open")
            }
            throw FileSystemError("flock", path: lockPath, errorNumber: reason)
        }
        return descriptor
    }
}
