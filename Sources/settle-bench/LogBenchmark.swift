import ArgumentParser
import Foundation
import PostgresClient
import SignedLog

#if canImport(Glibc)
    import Glibc
#endif

/// Sealed appends per second at several concurrencies, beside the raw `fdatasync` rate of the
/// same disk: the floor no group-committed log can beat per batch.
struct LogBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "log",
        abstract: "Sealed appends/s with 1, 64 and 1024 concurrent appenders, beside raw fdatasync/s."
    )

    @Option(help: "Scratch directory on the disk to measure (emptied and reused).")
    var dir: String

    @Option(help: "Seconds per measurement.")
    var seconds: Int = 3

    @Option(help: "Record payload bytes.")
    var recordBytes: Int = 256

    @Option(parsing: .upToNextOption, help: "Concurrent appenders, one measurement each.")
    var concurrency: [Int] = [1, 64, 1024]

    @Option(help: "Also measure the log kept in this PostgreSQL database (the storage for failover).")
    var postgres: String?

    func run() async throws {
        let duration = Duration.seconds(seconds)
        let fsyncRate = try measureRawFdatasync(directory: dir, recordBytes: recordBytes, duration: duration)
        let key = try SigningKey.generate()
        var rows: [(String, Double, Double, Double)] = []
        for appenders in concurrency {
            let logDirectory = dir + "/log-\(appenders)"
            try? FileManager.default.removeItem(atPath: logDirectory)
            let (rate, recordsPerSeal) = try await measureSealedAppends(
                directory: logDirectory, key: key, appenders: appenders, recordBytes: recordBytes, duration: duration
            )
            rows.append(("sealed appends, \(appenders) appenders", rate, rate / fsyncRate, recordsPerSeal))
            try? FileManager.default.removeItem(atPath: logDirectory)
        }
        if let postgres {
            for appenders in concurrency {
                let (rate, recordsPerSeal) = try await measureSealedAppendsInPostgres(
                    url: postgres, key: key, appenders: appenders, recordBytes: recordBytes, duration: duration
                )
                rows.append(("sealed appends in PostgreSQL, \(appenders) appenders", rate, rate / fsyncRate, recordsPerSeal))
            }
        }
        print("| measurement (\(recordBytes)-byte records, \(seconds) s each) | per second | × fdatasync/s | records per seal |")
        print("| --- | ---: | ---: | ---: |")
        print("| raw pwrite + fdatasync (the floor) | \(format(fsyncRate)) | 1.00 | 1 |")
        for (name, rate, ratio, recordsPerSeal) in rows {
            print("| \(name) | \(format(rate)) | \(String(format: "%.2f", ratio)) | \(String(format: "%.1f", recordsPerSeal)) |")
        }
        printMerkleCost(rows: rows.map { ($0.0, $0.1, $0.3) }, duration: duration)
    }

    /// The Merkle tree's share of each sealed append: its work per record (leaf hash, frontier
    /// update) and per seal (the root), timed alone on one thread, against each row's time per
    /// record; "without the tree" is what the same row would reach if that work cost nothing.
    private func printMerkleCost(rows: [(name: String, rate: Double, recordsPerSeal: Double)], duration: Duration) {
        let cost = measureMerkleWork(recordBytes: recordBytes, duration: duration)
        print("")
        print(
            "Merkle tree work alone: \(String(format: "%.2f", cost.perRecord * 1e6)) µs per record + "
                + "\(String(format: "%.2f", cost.perSeal * 1e6)) µs per seal (root)."
        )
        print("")
        print("| sealed appends | per second | tree's share of each append | per second without the tree |")
        print("| --- | ---: | ---: | ---: |")
        for row in rows {
            let perAppend = 1 / row.rate
            let treePerAppend = cost.perRecord + cost.perSeal / max(row.recordsPerSeal, 1)
            let share = treePerAppend / perAppend
            print(
                "| \(row.name) | \(format(row.rate)) | \(String(format: "%.1f", share * 100)) % | "
                    + "\(format(1 / max(perAppend - treePerAppend, 1e-12))) |"
            )
        }
    }

    private func format(_ value: Double) -> String { String(Int(value.rounded())) }
}

/// One writer appending `recordBytes` and calling fdatasync, as often as the disk allows.
func measureRawFdatasync(directory: String, recordBytes: Int, duration: Duration) throws -> Double {
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    let path = directory + "/fdatasync-probe"
    let descriptor = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
    guard descriptor >= 0 else { throw ValidationError("cannot create \(path)") }
    defer {
        close(descriptor)
        unlink(path)
    }
    let record = [UInt8](repeating: 0x5A, count: recordBytes)
    let clock = ContinuousClock()
    let start = clock.now
    var offset = 0
    var count = 0
    while clock.now - start < duration {
        let written = record.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, off_t(offset)) }
        guard written == recordBytes, fdatasync(descriptor) == 0 else { throw ValidationError("write or fdatasync failed") }
        offset += recordBytes
        count += 1
    }
    return Double(count) / seconds(clock.now - start)
}

/// The same appends to a log kept in PostgreSQL, under a lease of a log name of its own.
func measureSealedAppendsInPostgres(
    url: String, key: SigningKey, appenders: Int, recordBytes: Int, duration: Duration
) async throws -> (rate: Double, recordsPerSeal: Double) {
    let name = "bench-log-\(appenders)-\(UInt32.random(in: 0...UInt32.max))"
    let connection = try await PostgresConnection.connect(to: url)
    let attempt = try await CoordinatorLease.tryAcquire(coordinatorID: name, holder: "tools/bench log", duration: .seconds(600), on: connection)
    await connection.close()
    guard case .acquired(let lease) = attempt else { throw ValidationError("the fresh log name \(name) was already leased") }
    var configuration = SignedLogConfiguration()
    configuration.leaseEpoch = lease.epoch
    return try await measureSealedAppends(
        directory: "\(url)#\(name)", key: key, appenders: appenders, recordBytes: recordBytes, duration: duration,
        configuration: configuration
    )
}

func measureSealedAppends(
    directory: String, key: SigningKey, appenders: Int, recordBytes: Int, duration: Duration,
    configuration: SignedLogConfiguration = .init()
) async throws -> (rate: Double, recordsPerSeal: Double) {
    let log = try await SignedLog.open(directory: directory, signingKey: key, configuration: configuration)
    let payload = [UInt8](repeating: 0x42, count: recordBytes)
    let entry = LogEntry(type: RecordType(rawValue: RecordType.firstApplicationCode), payload: payload)
    let clock = ContinuousClock()
    let start = clock.now
    let deadline = start + duration
    let appended = try await withThrowingTaskGroup(of: Int.self) { group in
        for _ in 0..<appenders {
            group.addTask {
                var count = 0
                while clock.now < deadline {
                    _ = try await log.append(entry)
                    count += 1
                }
                return count
            }
        }
        return try await group.reduce(0, +)
    }
    let elapsed = seconds(clock.now - start)
    await log.close()
    let summary = try LogAuditor(directory: directory, verifyingKey: key.verifyingKey).verify()
    precondition(summary.recordCount == appended, "the log holds \(summary.recordCount) records, \(appended) were acknowledged")
    return (Double(appended) / elapsed, Double(summary.recordCount) / Double(max(1, summary.sealCount)))
}

/// Seconds of Merkle work per record and per seal, as the log's writer does it: the leaf hash of
/// the frame body, the frontier update, and at each seal the frontier's root.
func measureMerkleWork(recordBytes: Int, duration: Duration) -> (perRecord: Double, perSeal: Double) {
    let record = LogRecord(
        lsn: 1, type: RecordType(rawValue: RecordType.firstApplicationCode), appendedAtNanoseconds: 0,
        payload: [UInt8](repeating: 0x42, count: recordBytes), chainHash: SHA256Digest(hashing: [UInt8]())
    )
    let body = record.frameBody
    let clock = ContinuousClock()
    var frontier = MerkleFrontier.empty
    var records = 0
    var start = clock.now
    while clock.now - start < duration / 2 {
        for _ in 0..<1000 { frontier.append(leaf: MerkleHash.leaf(body)) }
        records += 1000
    }
    let perRecord = seconds(clock.now - start) / Double(records)
    var roots = 0
    var lastRoot = MerkleHash.emptyRoot
    start = clock.now
    while clock.now - start < duration / 2 {
        for _ in 0..<1000 { lastRoot = frontier.root }
        roots += 1000
    }
    precondition(lastRoot != MerkleHash.emptyRoot, "a frontier of \(records) leaves has a root")
    return (perRecord, seconds(clock.now - start) / Double(roots))
}
