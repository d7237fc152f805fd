/// Limits and clocks of an open log. Every queue and batch is bounded; work beyond a bound is
/// refused with a clear error rather than buffered without end.
public struct SignedLogConfiguration: Sendable {
    /// A segment is closed and a new one begun once a batch leaves it at least this large.
    public var segmentBytesTarget = 64 << 20
    /// Records written under one seal, at most; more waiting records go into the next batch.
    public var batchRecordsMax = 4096
    /// Payload bytes under one seal, at most (a single larger record still forms its own batch).
    public var batchBytesMax = 8 << 20
    /// Records waiting for the writer beyond which `append` throws `queueFull`.
    public var queuedRecordsMax = 65_536
    /// A single record's payload, at most.
    public var recordPayloadBytesMax = LogFormat.recordPayloadBytesMax
    /// Called on the writer thread after each batch is sealed and synced, with its record count
    /// and how long the write, seal and fdatasync took (for metrics; keep it cheap).
    public var onBatchSealed: (@Sendable (_ records: Int, _ duration: Duration) -> Void)?
    /// The epoch of the coordinator's lease (`CoordinatorLease`), required to open a log kept in
    /// PostgreSQL: every batch is sealed only if the lease still has this epoch. Unused by files,
    /// which a directory lock keeps to one writer.
    public var leaseEpoch: UInt32?
    /// Wall-clock time for records and seals, in nanoseconds since the Unix epoch.
    public var nowNanoseconds: @Sendable () -> Int64 = systemNowNanoseconds
    /// FAULT INJECTION (crash tests and tools/chaos only; nil otherwise): asked with each batch's
    /// record count and encoded size before it is written; an answer of n writes only the batch's
    /// first n bytes, without a sync, and then kills the process with SIGKILL, the way a crash in
    /// the middle of a `pwrite` leaves a torn tail that no caller was ever told about.
    public var faultInjectionTearBatch: (@Sendable (_ records: Int, _ byteCount: Int) -> Int?)?
    /// FAULT INJECTION (disk-fault tests only; nil otherwise): asked before each batch's
    /// `fdatasync`, after its `pwrite`; an errno makes that sync fail with it, as a failing disk's
    /// `fdatasync` does (EIO).
    public var faultInjectionSyncError: (@Sendable () -> Int32?)?

    public init() {}
}

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

@Sendable public func systemNowNanoseconds() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
}
