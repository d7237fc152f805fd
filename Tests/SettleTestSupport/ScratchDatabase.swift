import PostgresClient

/// A database of its own on a test cluster, dropped afterwards: tests never see each
/// other's accounts, barrier rows or prepared transactions.
public struct ScratchDatabase: Sendable {
    public let name: String
    public let url: String
    public let cluster: Int

    public static func create(cluster: Int = 0) async throws -> ScratchDatabase {
        let name = TestClusters.uniqueName("settle_test")
        let admin = try await TestClusters.connect(cluster)
        try await admin.query("CREATE DATABASE \(name)")
        await admin.close()
        let base = try TestClusters.url(cluster)
        let url = String(base[..<base.lastIndex(of: "/")!]) + "/" + name
        return ScratchDatabase(name: name, url: url, cluster: cluster)
    }

    /// Rolls back anything left prepared in it (a failed test must not block the next one), then drops it.
    public func drop() async {
        guard let admin = try? await TestClusters.connect(cluster) else { return }
        if let rows = try? await admin.query("SELECT gid FROM pg_prepared_xacts WHERE database = $1", [name]) {
            let own = try? await PostgresConnection.connect(to: url)
            for row in rows {
                if let gid: String = try? row.decode(column: "gid") { try? await own?.rollbackPrepared(gid: gid) }
            }
            await own?.close()
        }
        _ = try? await admin.query("DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
        await admin.close()
    }
}
