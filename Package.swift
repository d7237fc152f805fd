// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Settle",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "PostgresClient", targets: ["PostgresClient"]),
        .library(name: "SignedLog", targets: ["SignedLog"]),
        .library(name: "SettleCore", targets: ["SettleCore"]),
        .executable(name: "settle", targets: ["settle"]),
        .executable(name: "settle-bench", targets: ["settle-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
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
        .target(name: "SignedLog", dependencies: ["COpenSSL"]),
        .target(name: "SettleCore"),
        .executableTarget(
            name: "settle",
            dependencies: ["SignedLog", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .executableTarget(
            name: "settle-bench",
            dependencies: ["SignedLog", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .testTarget(name: "PostgresClientTests", dependencies: ["PostgresClient"]),
        .testTarget(name: "SignedLogTests", dependencies: ["SignedLog"]),
        .testTarget(name: "SettleCoreTests", dependencies: ["SettleCore"]),
        .testTarget(name: "SettleCLITests", dependencies: ["SignedLog"]),
    ],
    swiftLanguageModes: [.v6]
)
