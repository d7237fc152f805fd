import Foundation
import SettleClient
import SettleTestSupport
import Testing

/// With settled's `tls`, the console serves HTTPS with the API's certificate, and a browser that
/// presents a client certificate the API's authority issued logs in as the client whose
/// `certificateCommonName` it carries — the same credential as the API's mutual TLS. Without a
/// certificate, or with the login form's nonce missing, it is refused; token login still works.
@Suite("console login by client certificate", .timeLimit(.minutes(3)))
struct ConsoleCertificateLoginTests {
    /// Python's ssl and http.client, as a browser would: fetch the login form, post it, follow.
    static let client = #"""
        import http.client, re, ssl, sys
        port, authority, certificate, key, mode = sys.argv[1:6]
        context = ssl.create_default_context(cafile=authority)
        context.check_hostname = False
        if mode != "no-certificate":
            context.load_cert_chain(certificate, key)
        def request(method, path, body=None, cookies=""):
            connection = http.client.HTTPSConnection("127.0.0.1", int(port), context=context)
            headers = {"Cookie": cookies, "Content-Type": "application/x-www-form-urlencoded"}
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, response.getheader("Location") or "", response.getheader("Set-Cookie") or "", response.read().decode()
        status, _, set_cookie, page = request("GET", "/login")
        nonce = re.search(r'name="csrf" value="([0-9a-f]+)"', page).group(1)
        cookie = set_cookie.split(";")[0]
        assert "certificate-login" in page, "the login page offers certificate login"
        body = "csrf=" + (nonce if mode != "no-nonce" else "")
        status, location, set_cookie, page = request("POST", "/login/certificate", body, cookie)
        if status != 303:
            flash = re.search(r'id="flash">([^<]*)<', page)
            print("refused", status, flash.group(1) if flash else page[:300])
            sys.exit(0)
        session = set_cookie.split(";")[0]
        assert "Secure" in set_cookie, set_cookie
        status, _, _, page = request("GET", "/", None, session)
        print("logged in", status, re.search(r'<span id="user">([^<]*)</span>', page).group(1))
        """#

    @Test func aClientCertificateLogsItsClientIn() async throws {
        let directory = try TemporaryDirectory()
        let certificates = try TestCertificates.issue(in: directory.path)
        try await withDeployment(
            configuration: [
                "tls": [
                    "certificateChain": certificates.server, "privateKey": certificates.serverKey,
                    "clientCertificateAuthority": certificates.authority,
                ]
            ]
        ) { deployment throws in
            func login(_ mode: String) throws -> String {
                let finished = try runExecutable(
                    at: "/usr/bin/env",
                    [
                        "python3", "-c", Self.client, "\(deployment.consolePort)", certificates.authority, certificates.client,
                        certificates.clientKey, mode,
                    ]
                )
                #expect(finished.status == 0, "\(finished.errorOutput)")
                return finished.output
            }
            // The test certificate's common name is configured for the client "tests" (operator).
            let withCertificate = try login("certificate")
            #expect(withCertificate.hasPrefix("logged in 200 tests (operator)"), "\(withCertificate)")
            let without = try login("no-certificate")
            #expect(without.contains("refused 401") && without.contains("presented no client certificate"), "\(without)")
            let forged = try login("no-nonce")
            #expect(forged.contains("refused 403") && forged.contains("came from elsewhere"), "\(forged)")
        }
    }
}
