extension Settle_V1_BranchCommand {
    /// The gid the command names, which its answer echoes; empty when it names no command.
    public var gid: String {
        switch command {
        case .prepare(let request): request.gid
        case .commit(let request): request.gid
        case .rollback(let request): request.gid
        case nil: ""
        }
    }
}
