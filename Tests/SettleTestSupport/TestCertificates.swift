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

    private static func openssl(_ arguments: String...) throws {
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
