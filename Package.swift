// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "Settle",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "PostgresClient", targets: ["PostgresClient"]),
        .library(name: "SignedLog", targets: ["SignedLog"]),
        .library(name: "SettleCore", targets: ["SettleCore"]),
        .library(name: "SettleProtocol", targets: ["SettleProtocol"]),
        .library(name: "SettleParticipant", targets: ["SettleParticipant"]),
        .library(name: "ExampleBank", targets: ["ExampleBank"]),
        .library(name: "SettleCoordinator", targets: ["SettleCoordinator"]),
        .library(name: "SettleClient", targets: ["SettleClient"]),
        .executable(name: "settled", targets: ["settled"]),
        .executable(name: "example-bank", targets: ["example-bank"]),
        .executable(name: "settle", targets: ["settle"]),
        .executable(name: "settle-bench", targets: ["settle-bench"]),
        .executable(name: "settle-chaos", targets: ["settle-chaos"]),
        .executable(name: "settle-simulate", targets: ["settle-simulate"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.1"),
        .package(url: "https://github.com/grpc/grpc-swift-2", from: "2.0.0"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport", from: "2.0.0"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.28.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.65.0"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.0.0"),
        // The operator's console: no swift-configuration, no full-Foundation extras.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.0", traits: []),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.27.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.0"),
        .package(url: "https://github.com/apple/swift-distributed-tracing", from: "1.7.0"),
        // Span export for settled and ExampleBank only (OTLP over the gRPC stack Settle already
        // builds; the OTLP/HTTP exporter would add async-http-client).
        .package(url: "https://github.com/swift-otel/swift-otel", from: "1.6.0", traits: ["OTLPGRPC"]),
    ],
    targets: [
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        .systemLibrary(
            name: "COpenSSL",
            pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"])]
        ),
        .target(name: "PostgresClient", dependencies: ["CLibPQ"]),
        .target(name: "SignedLog", dependencies: ["COpenSSL", "PostgresClient"]),
        .target(name: "SettleCore"),
        .target(
            name: "SettleTracing",
            dependencies: [
                .product(name: "GRPCCore", package: "grpc-swift-2"), .product(name: "Tracing", package: "swift-distributed-tracing"),
            ]
        ),
        .target(
            name: "SettleTelemetry",
            dependencies: [
                .product(name: "OTel", package: "swift-otel"), .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ]
        ),
        .target(name: "SettleSimulation", dependencies: ["SettleCore"]),
        .executableTarget(
            name: "settle-simulate",
            dependencies: [
                "SettleSimulation", "SettleCoordinator", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .target(name: "LaunchedProcesses"),
        .target(
            name: "SettleProtocol",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ]
        ),
        .target(
            name: "SettleAuth",
            dependencies: [
                "SignedLog",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "X509", package: "swift-certificates"),
            ]
        ),
        .target(
            name: "SettleParticipant",
            dependencies: [
                "SettleCore", "SettleProtocol", "SettleAuth", "PostgresClient", "SignedLog", "SettleTracing",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        .target(name: "ExampleBank", dependencies: ["SettleParticipant", "PostgresClient"]),
        .target(name: "SettleAudit", dependencies: ["SettleCoordinator", "SettleCore", "SettleAuth", "SignedLog", "PostgresClient"]),
        .target(
            name: "SettleCoordinator",
            dependencies: [
                "SettleCore", "SignedLog", "SettleProtocol", "SettleAuth", "SettleSimulation", "SettleTracing",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ]
        ),
        .target(
            name: "SettleClient",
            dependencies: [
                "SettleCore", "SettleProtocol", "SettleTracing",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
            ]
        ),
        .executableTarget(
            name: "settled",
            dependencies: [
                "SettleCoordinator", "SignedLog", "SettleTelemetry",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "example-bank",
            dependencies: [
                "ExampleBank", "SettleParticipant", "SettleTelemetry", "PostgresClient", "SettleCore", "SettleProtocol",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "settle",
            dependencies: [
                "SignedLog", "SettleClient", "SettleCore", "SettleProtocol", "SettleAudit",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "settle-bench",
            dependencies: [
                "SignedLog", "PostgresClient", "ExampleBank", "SettleClient", "SettleCore", "SettleAuth", "SettleCoordinator",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "settle-chaos",
            dependencies: [
                "SettleClient", "SettleCore", "SettleProtocol", "ExampleBank", "PostgresClient", "SignedLog", "LaunchedProcesses",
                "SettleAuth", "SettleParticipant",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
            ]
        ),
        // Shared by the test targets: clusters from tools/pg, temporary directories, built products.
        .target(
            name: "SettleTestSupport",
            dependencies: ["PostgresClient", "LaunchedProcesses", .product(name: "GRPCCore", package: "grpc-swift-2")],
            path: "Tests/SettleTestSupport"
        ),
        .testTarget(name: "PostgresClientTests", dependencies: ["PostgresClient", "SettleTestSupport"]),
        .testTarget(
            name: "SignedLogTests",
            dependencies: ["SignedLog", "SettleTestSupport", .product(name: "PropertyBased", package: "swift-property-based")],
            exclude: ["Fixtures"]
        ),
        .testTarget(name: "SettleCoreTests", dependencies: ["SettleCore", .product(name: "PropertyBased", package: "swift-property-based")]),
        .testTarget(name: "SettleAuthTests", dependencies: ["SettleAuth", "SignedLog", "SettleTestSupport"]),
        .testTarget(name: "SettleSimulationTests", dependencies: ["SettleSimulation", "SettleCore"]),
        .testTarget(name: "SettleCLITests", dependencies: ["SignedLog", "SettleAudit", "SettleTestSupport"]),
        .testTarget(
            name: "SettleCoordinatorTests",
            dependencies: [
                "SettleCoordinator", "SettleClient", "SettleProtocol", "SettleCore", "ExampleBank", "PostgresClient",
                "SignedLog", "SettleTestSupport", "LaunchedProcesses", "SettleAuth",
            ],
            // Read by path: a log written by an earlier version (LogCompatibilityTests).
            exclude: ["Fixtures"]
        ),
        .testTarget(
            name: "SettleParticipantTests",
            dependencies: [
                "SettleParticipant", "ExampleBank", "SettleProtocol", "PostgresClient", "SettleCore", "SettleTestSupport",
                "LaunchedProcesses", "SettleAuth", "SignedLog",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
