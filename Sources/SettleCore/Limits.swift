/// Every bound Settle enforces on input, declared once, unit last, each with its reason.
public enum Limits {
    /// A transfer touches a handful of services; more suggests a batch that should be split.
    public static let branchesPerTransferMax = 32
    /// Fits the gid under PostgreSQL's 199-byte limit with the other parts at their maximum.
    public static let transferIDBytesMax = 128
    /// Short enough to read in `pg_prepared_xacts`, long enough for a host-derived name.
    public static let coordinatorIDBytesMax = 32
    /// PostgreSQL keeps a gid in 200 bytes including its NUL terminator.
    public static let gidBytesMax = 199
    /// A coordinator checkpoint's payload stays below this, well under the log's 16 MiB record
    /// limit; every unfinished transfer must fit, so one transfer's ACCEPTED record may take half.
    public static let checkpointBytesBudget = 12 << 20
}
