import Foundation
import SettleTestSupport
import Testing

/// Logging out is a state change like any other: another site's form posting to `/logout` (which a
/// browser sends without the session's CSRF token) must neither end the session nor clear its
/// cookie, or any page on the web could log the operators out mid-incident.
@Suite("console logout", .timeLimit(.minutes(3)))
struct ConsoleLogoutTests {
    /// Python's http.client, as a browser would: log in, then post `/logout` without the session's
    /// CSRF token and with it, looking at the session after each.
    static let client = #"""
        import http.client, re, sys
        port, token = sys.argv[1:3]
        def request(method, path, body=None, cookies=""):
            connection = http.client.HTTPConnection("127.0.0.1", int(port))
            headers = {"Cookie": cookies, "Content-Type": "application/x-www-form-urlencoded"}
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, response.getheader("Set-Cookie") or "", response.read().decode()
        _, set_cookie, page = request("GET", "/login")
        nonce = re.search(r'name="csrf" value="([0-9a-f]+)"', page).group(1)
        _, set_cookie, _ = request("POST", "/login", "csrf=%s&token=%s" % (nonce, token), set_cookie.split(";")[0])
        session = set_cookie.split(";")[0]
        status, _, page = request("GET", "/", None, session)
        csrf = re.search(r'action="/logout" class="logout"><input type="hidden" name="csrf" value="([0-9a-f]+)"', page).group(1)
        def cleared(set_cookie):
            return "cleared" if "max-age=0" in set_cookie.lower() else "kept"
        forged, forged_cookie, _ = request("POST", "/logout", "", session)
        after_forged = request("GET", "/", None, session)[0]
        genuine, genuine_cookie, _ = request("POST", "/logout", "csrf=" + csrf, session)
        after_genuine = request("GET", "/", None, session)[0]
        print(status, forged, cleared(forged_cookie), after_forged, genuine, cleared(genuine_cookie), after_genuine)
        """#

    @Test func aLogoutWithoutTheSessionsTokenEndsNothing() async throws {
        try await withDeployment { deployment throws in
            let finished = try runExecutable(at: "/usr/bin/env", ["python3", "-c", Self.client, "\(deployment.consolePort)", aliceToken])
            #expect(finished.status == 0, "\(finished.errorOutput)")
            // Logged in (200); the forged logout refused (403), its cookie kept and the session still
            // serving (200); the genuine one ends it (303, cookie cleared) and the next page asks
            // for a login (303).
            #expect(finished.output.trimmingCharacters(in: .whitespacesAndNewlines) == "200 403 kept 200 303 cleared 303")
        }
    }
}
