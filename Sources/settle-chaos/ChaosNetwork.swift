/// Where the storm's processes live. By default everything is on loopback; with
/// `tools/chaos --network` settled and each bank run in a network namespace of their own
/// (tools/lib/chaos-network.sh creates them), settled reaches each bank through a delaying proxy
/// in its own namespace, and `NetworkFaultSchedule` partitions, drops and delays between them.
struct ChaosNetwork: Sendable {
    /// nil: run in this process's namespace.
    let coordinatorNamespace: String?
    let bankNamespaces: [String?]
    let coordinatorAddress: String
    let bankAddresses: [String]
    /// The address the storm's own client and the databases have, as the others see it.
    let clientAddress: String
    /// tools/lib/delay-proxy.py, when settled's links to the banks go through delaying proxies.
    let delayProxy: String?

    static let loopback = ChaosNetwork(
        coordinatorNamespace: nil, bankNamespaces: [nil, nil, nil], coordinatorAddress: "127.0.0.1",
        bankAddresses: ["127.0.0.1", "127.0.0.1", "127.0.0.1"], clientAddress: "127.0.0.1", delayProxy: nil
    )

    /// The namespaces and addresses tools/lib/chaos-network.sh sets up.
    static func namespaces(delayProxy: String) -> ChaosNetwork {
        ChaosNetwork(
            coordinatorNamespace: "settle-chaos-coord",
            bankNamespaces: ["settle-chaos-bank-a", "settle-chaos-bank-b", "settle-chaos-bank-c"],
            coordinatorAddress: "10.77.0.10", bankAddresses: ["10.77.0.11", "10.77.0.12", "10.77.0.13"],
            clientAddress: "10.77.0.1", delayProxy: delayProxy
        )
    }

    var isIsolated: Bool { coordinatorNamespace != nil }

    /// The program and arguments that run `executable` inside `namespace`.
    static func command(_ executable: String, _ arguments: [String], in namespace: String?) -> (String, [String]) {
        guard let namespace else { return (executable, arguments) }
        return ("/usr/sbin/ip", ["netns", "exec", namespace, executable] + arguments)
    }
}
