import LaunchedProcesses

extension LaunchedProcess {
    /// Starts one of Settle's products as built beside the test bundle.
    public convenience init(_ product: String, _ arguments: [String], environment: [String: String] = [:], readyPrefix: String?) throws {
        try self.init(executable: try Products.path(product), arguments, environment: environment, readyPrefix: readyPrefix)
    }
}
