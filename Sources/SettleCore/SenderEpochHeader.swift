/// The gRPC header in which a coordinator tells a participant the lease epoch it acts under (1
/// for a log in files). A participant fences Prepares by it rather than by the gid's epoch: a
/// successor re-prepares its predecessor's gids under its own, newer epoch (protocol/gid.md).
public enum SenderEpochHeader {
    public static let name = "settle-coordinator-epoch"
}
