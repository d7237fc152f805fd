import Foundation

/// A throwaway certificate authority with a server certificate for 127.0.0.1 and a client
/// certificate, made by the openssl command (tools/install-deps installs it). Keys are 0600.
public struct TestCertificates: Sendable {
    public let authority: String
    public let server: String
    public let serverKey: String
    public let client: String
    public let clientKey: String

    public static func issue(in directory: String) throws -> TestCertificates {
        func path(_ name: String) -> String { directory + "/" + name }
        try openssl(
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
            "-subj", "/CN=settle-test-authority", "-keyout", path("authority.key"), "-out", path("authority.pem")
        )
        for (name, extensions) in [
            ("server", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n"),
            ("client", "extendedKeyUsage=clientAuth\n"),
        ] {
            try openssl(
                "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN=settle-test-\(name)",
                "-keyout", path("\(name).key"), "-out", path("\(name).csr")
            )
            try Data(extensions.utf8).write(to: URL(fileURLWithPath: path("\(name).ext")))
            try openssl(
                "x509", "-req", "-in", path("\(name).csr"), "-CA", path("authority.pem"), "-CAkey", path("authority.key"),
                "-CAcreateserial", "-days", "2", "-extfile", path("\(name).ext"), "-out", path("\(name).pem")
            )
        }
        for key in ["authority.key", "server.key", "client.key"] {
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path(key))
        }
        return TestCertificates(
            authority: path("authority.pem"), server: path("server.pem"), serverKey: path("server.key"),
            client: path("client.pem"), clientKey: path("client.key")
        )
    }

    /// A server certificate from this authority valid only between two dates (UTC,
    /// `YYYYMMDDHHMMSSZ`), for the names in `subjectAltName` (e.g. `IP:127.0.0.1`); for the tests of
    /// expired, not yet valid and misaddressed certificates. `openssl ca` is the command that takes
    /// explicit dates.
    public func issueServer(
        named name: String, in directory: String, from start: String, until end: String, subjectAltName: String
    )
        throws -> (certificate: String, key: String)
    {
        func path(_ file: String) -> String { directory + "/" + file }
        let authorityKey = URL(fileURLWithPath: authority).deletingLastPathComponent().appendingPathComponent("authority.key").path
        let database = path("\(name)-index.txt")
        _ = FileManager.default.createFile(atPath: database, contents: nil)
        try Data("01\n".utf8).write(to: URL(fileURLWithPath: path("\(name)-serial")))
        let configuration = """
            [ca]
            default_ca = test
            [test]
            database = \(database)
            new_certs_dir = \(directory)
            serial = \(path("\(name)-serial"))
            default_md = sha256
            policy = anything
            unique_subject = no
            [anything]
            commonName = supplied
            [server]
            subjectAltName = \(subjectAltName)
            extendedKeyUsage = serverAuth
            """
        try Data(configuration.utf8).write(to: URL(fileURLWithPath: path("\(name)-ca.cnf")))
        try Self.openssl(
            "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN=settle-test-\(name)",
            "-keyout", path("\(name).key"), "-out", path("\(name).csr")
        )
        try Self.openssl(
            "ca", "-batch", "-notext", "-config", path("\(name)-ca.cnf"), "-extensions", "server", "-cert", authority,
            "-keyfile", authorityKey, "-in", path("\(name).csr"), "-out", path("\(name).pem"), "-startdate", start, "-enddate", end
        )
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path("\(name).key"))
        return (path("\(name).pem"), path("\(name).key"))
    }

    private static func openssl(_ arguments: String...) throws {
        try openssl(arguments)
    }

    private static func openssl(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let message = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw OpenSSLFailed(description: "openssl \(arguments.joined(separator: " ")): \(String(decoding: message, as: UTF8.self))")
        }
    }

    struct OpenSSLFailed: Error, CustomStringConvertible {
        let description: String
    }
}
