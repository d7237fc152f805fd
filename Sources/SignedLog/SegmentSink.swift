#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Where the log's writer puts sealed batches: the segment files of a directory, or PostgreSQL
/// rows (`PostgresSegmentSink`). Owned by the writer thread, never shared.
protocol SegmentSink: AnyObject {
    /// The segment batches go to now, and its size so far (header included).
    var segmentNumber: UInt64 { get }
    var segmentByteCount: Int { get }
    /// A segment is closed and the next begun once a batch leaves it at least this large.
    var segmentBytesTarget: Int { get }
    /// Makes one sealed batch — its records' frames followed by its seal's — durable, or throws;
    /// nothing may be reported durable that a crash could lose.
    func writeBatch(_ frames: [UInt8], seal: LogSeal, firstLSN: LSN, recordCount: Int) throws
    /// After a failed write, leaves nothing a later open could mistake for sealed (best effort).
    func discardUnsynced()
    /// Begins the segment `header` describes, right after a seal.
    func beginSegment(_ header: SegmentHeader) throws
    func close()
}

/// A log directory's last segment file, appended with `pwrite` and made durable with `fdatasync`.
final class FileSegmentSink: SegmentSink {
    private(set) var segmentNumber: UInt64
    private(set) var segmentByteCount: Int
    private var descriptor: Int32
    private let directory: SegmentDirectory
    private let configuration: SignedLogConfiguration
    var segmentBytesTarget: Int { configuration.segmentBytesTarget }

    init(directory: SegmentDirectory, segmentNumber: UInt64, descriptor: Int32, byteCount: Int, configuration: SignedLogConfiguration) {
        self.directory = directory
        self.segmentNumber = segmentNumber
        self.descriptor = descriptor
        self.segmentByteCount = byteCount
        self.configuration = configuration
    }

    func writeBatch(_ frames: [UInt8], seal: LogSeal, firstLSN: LSN, recordCount: Int) throws {
        let path = directory.segmentPath(segmentNumber)
        if let kept = configuration.faultInjectionTearBatch?(recordCount, frames.count) {
            try FileDescriptorIO.writeAll(descriptor, Array(frames.prefix(kept)), at: segmentByteCount, path: path)
            kill(getpid(), SIGKILL)
        }
        try FileDescriptorIO.writeAll(descriptor, frames, at: segmentByteCount, path: path)
        if let injected = configuration.faultInjectionSyncError?() {
            throw FileSystemError("fdatasync", path: path, errorNumber: injected)
        }
        try FileDescriptorIO.syncData(descriptor, path: path)
        segmentByteCount += frames.count
    }

    /// Cuts the segment back to its last durable seal. Nobody was told those bytes are durable,
    /// and after a failed `fdatasync` nothing says whether they are, so a later open must not
    /// find them sealed.
    func discardUnsynced() {
        if ftruncate(descriptor, off_t(segmentByteCount)) == 0 { _ = fdatasync(descriptor) }
    }

    func beginSegment(_ header: SegmentHeader) throws {
        let next = try directory.createSegment(header)
        closeFile(descriptor)
        descriptor = next
        segmentNumber = header.segmentNumber
        segmentByteCount = header.byteCount
    }

    func close() { closeFile(descriptor) }
}

/// `close(2)`, named apart from the sinks' own `close()`.
func closeFile(_ descriptor: Int32) { close(descriptor) }
