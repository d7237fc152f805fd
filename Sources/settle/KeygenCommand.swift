import ArgumentParser
import SignedLog

struct KeygenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen",
        abstract: "Generate the Ed25519 key pair that seals the recovery log.",
        discussion: """
            Writes signing-key.pem (PKCS#8, mode 0600) for settled and signing-key.pub.pem \
            (SubjectPublicKeyInfo) for auditors. Existing files are never overwritten. \
            `openssl genpkey -algorithm ed25519` makes an equivalent private key.
            """
    )

    @Option(name: .long, help: "Directory to write the two key files into (created if missing).")
    var out: String

    func run() throws {
        try createDirectory(out)
        let key = try SigningKey.generate()
        let privatePath = out + "/signing-key.pem"
        let publicPath = out + "/signing-key.pub.pem"
        try PrivateKeyFile.create(privatePath, bytes: key.pkcs8PEMBytes(), mode: 0o600)
        try PrivateKeyFile.create(publicPath, bytes: key.verifyingKey.pemBytes(), mode: 0o644)
        print("wrote \(privatePath) (private, mode 0600: give it to settled only)")
        print("wrote \(publicPath) (public: give it to auditors)")
        print("key id \(key.verifyingKey.keyID)")
    }
}
