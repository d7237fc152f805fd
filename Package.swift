// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Settle",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "PostgresClient", targets: ["PostgresClient"]),
        .library(name: "SignedLog", targets: ["SignedLog"]),
        .library(name: "SettleCore", targets: ["SettleCore"]),
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
        .testTarget(name: "PostgresClientTests", dependencies: ["PostgresClient"]),
        .testTarget(name: "SignedLogTests", dependencies: ["SignedLog"]),
        .testTarget(name: "SettleCoreTests", dependencies: ["SettleCore"]),
    ],
    swiftLanguageModes: [.v6]
)
