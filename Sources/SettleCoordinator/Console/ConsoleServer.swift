import Hummingbird
import HummingbirdCore
import HTTPTypes
import Logging
import Metrics
import Mustache
import NIOCore
import SettleCore
import SettleProtocol

/// The operator's console: server-rendered pages over HTTP/1.1 on its own listener, with
/// sessions from the API's own client tokens, a CSRF token in every form that changes anything,
/// and every action sealed in the log under the operator's name (`OperatorActions`).
struct ConsoleServer: Sendable {
    let address: HostPort
    let coordinatorID: String
    let pages: ConsolePages
    let actions: OperatorActions
    let clients: ClientRegistry
    let sessions: ConsoleSessions
    let logger: Logger
    let library: MustacheLibrary
    /// Cookies carry `Secure` unless the console listens on loopback (then it is plain HTTP).
    let secureCookies: Bool
    /// The client API's TLS, which the console serves too (nil: plain HTTP).
    let tls: ServerTLS?
    /// Timeline reads at once: each reads a segment of the log on NIO's blocking-I/O pool.
    let timelineReads = ConcurrencyGate(limit: 2)

    static let sessionCookie = "settle_session"
    /// Sent by the console's script on its automatic refreshes.
    static var refreshHeader: HTTPField.Name { HTTPField.Name("X-Settle-Refresh") ?? .cacheControl }
    static let loginCookie = "settle_login"
    static let formBytesMax = 16 * 1024
    static let connectionsMax = 64
    static let connectionsPerAddressMax = 16

    init(
        address: HostPort, coordinatorID: String, pages: ConsolePages, actions: OperatorActions, clients: ClientRegistry,
        sessionMinutes: UInt32, secureCookies: Bool?, tls: ServerTLS?, logger: Logger
    ) throws {
        self.tls = tls
        self.address = address
        self.coordinatorID = coordinatorID
        self.pages = pages
        self.actions = actions
        self.clients = clients
        self.sessions = ConsoleSessions(idleMinutes: sessionMinutes)
        self.logger = logger
        self.library = try ConsoleTemplates.library()
        self.secureCookies = secureCookies ?? (tls != nil || !address.isLoopback)
    }

    /// Serves until the task is cancelled; `bound` receives the listening port.
    func run(bound: @escaping @Sendable (Int) -> Void) async throws {
        let router = Router(context: ConsoleRequestContext.self)
        router.middlewares.add(SecurityHeaders())
        router.get("/static/console.css") { _, _ in Self.asset(ConsoleAssets.css, type: "text/css; charset=utf-8") }
        router.get("/static/console.js") { _, _ in Self.asset(ConsoleAssets.javascript, type: "text/javascript; charset=utf-8") }
        router.get("/login") { _, _ in loginPage() }
        router.post("/login") { request, _ in try await login(request) }
        router.post("/login/certificate") { request, context in try await certificateLogin(request, context) }
        router.post("/logout") { request, _ in try await logout(request) }
        router.get("/") { request, _ in page(request, "overview") { _ in pages.overview() } }
        router.get("/transfers") { request, _ in page(request, "transfers") { _ in transfersPage(request) } }
        router.get("/transfer") { request, _ in try await transferPage(request) }
        router.get("/stuck") { request, _ in page(request, "stuck") { _ in pages.stuck() } }
        router.get("/in-doubt") { request, _ in page(request, "in-doubt") { _ in pages.inDoubt() } }
        router.get("/participants") { request, _ in page(request, "participants") { _ in pages.participantsPage() } }
        for action in ConsoleAction.allCases {
            router.post("/transfer/\(action.rawValue)") { request, _ in try await act(action, request) }
        }
        // A connection that sends nothing for this long is closed, and one address holds at most
        // 16, so idle or slow clients cannot hold the console's connections from the operators.
        let perAddress = ConsoleConnectionsPerAddress(limit: Self.connectionsPerAddressMax)
        let http1 = HTTP1Channel.Configuration(additionalChannelHandlers: [perAddress.handler()], idleTimeout: .seconds(30))
        let app = Application(
            router: router,
            server: try tls.map { try .tls(.http1(configuration: http1), tlsConfiguration: Self.tlsConfiguration($0)) }
                ?? .http1(configuration: http1),
            configuration: .init(
                address: .hostname(address.host, port: address.port), serverName: nil,
                availableConnectionsDelegate: MaximumAvailableConnections(Self.connectionsMax)
            ),
            onServerRunning: { channel in bound(channel.localAddress?.port ?? 0) },
            logger: logger
        )
        try await app.run()
    }

    // MARK: Pages

    /// A page for a logged-in reader, or the way to the login form.
    private func page(_ request: Request, _ template: String, _ values: (Viewer) -> [String: Any]) -> Response {
        switch viewer(request) {
        case .success(let viewer): return render(template, values(viewer), for: viewer)
        case .failure(let refusal): return refusal.response(self)
        }
    }

    private func transfersPage(_ request: Request) -> [String: Any] {
        let query = request.uri.queryParameters
        func value(_ name: String) -> String { query.get(name).map { String($0.prefix(256)) } ?? "" }
        let filter = ConsolePages.TransferFilter(
            id: value("id"), state: value("state"), participant: value("participant"), path: value("path"), minutes: value("minutes"),
            after: value("after")
        )
        return pages.transfers(filter, nowMilliseconds: WallClock.nowMilliseconds())
    }

    private func transferPage(_ request: Request) async throws -> Response {
        let viewer: Viewer
        switch self.viewer(request) {
        case .success(let found): viewer = found
        case .failure(let refusal): return refusal.response(self)
        }
        let id = request.uri.queryParameters.get("id").map { String($0) } ?? ""
        guard id.utf8.count <= Limits.transferIDBytesMax, let entry = pages.registry.entry(id) else {
            return render(
                "message", ["heading": "Not found", "text": "No transfer with id '\(id.prefix(128))' is known here."], for: viewer, status: .notFound)
        }
        var timeline: Result<TransferTimeline, any Error>?
        if let accepted = entry.acceptedLSN { timeline = await readTimeline(id, from: accepted, through: entry.lastRecordLSN) }
        return render("transfer", pages.transfer(entry, timeline: timeline), for: viewer)
    }

    /// The transfer's records from the log, unless two other reads are under way.
    private func readTimeline(_ id: String, from accepted: UInt64, through last: UInt64?) async -> Result<TransferTimeline, any Error> {
        guard timelineReads.enter() else { return .failure(TimelineBusy()) }
        defer { timelineReads.leave() }
        do {
            let reader = pages.log.reader(keys: nil)
            return .success(
                try await TransferTimeline.read(transferID: id, fromLSN: accepted, throughLSN: last, reader: reader, keys: pages.log.trustedKeys)
            )
        } catch {
            return .failure(error)
        }
    }

    private func loginPage(flash: String? = nil, status: HTTPResponse.Status = .ok) -> Response {
        let nonce = ConsoleSessions.randomToken()
        var response = html(
            library.render(
                (["coordinator": coordinatorID, "loginCSRF": nonce, "certificateLogin": tls?.clientCertificateAuthority != nil]
                    as [String: Any]).settingIfPresent("flash", flash),
                withTemplate: "login"
            ) ?? "",
            status: status
        )
        response.setCookie(Cookie(name: Self.loginCookie, value: nonce, path: "/login", secure: secureCookies, httpOnly: true, sameSite: .strict))
        return response
    }

    func render(_ template: String, _ values: [String: Any], for viewer: Viewer, status: HTTPResponse.Status = .ok) -> Response {
        var values = values
        values["coordinator"] = coordinatorID
        values["user"] = viewer.client.name
        values["operator"] = viewer.client.operator
        values["csrf"] = viewer.session.csrfToken
        if values["flash"] == nil, let flash = sessions.takeFlash(viewer.session.id) { values["flash"] = flash }
        return html(library.render(values, withTemplate: template) ?? "", status: status)
    }

    // MARK: Sessions

    struct Viewer {
        let session: ConsoleSessions.Session
        let client: ClientConfiguration
    }

    enum Refusal: Error {
        case notLoggedIn
        case forbidden(String)

        func response(_ server: ConsoleServer) -> Response {
            switch self {
            case .notLoggedIn:
                return Response(status: .seeOther, headers: [.location: "/login"])
            case .forbidden(let why):
                return server.html(
                    server.library.render(["coordinator": server.coordinatorID, "heading": "Refused", "text": why], withTemplate: "message")
                        ?? why,
                    status: .forbidden
                )
            }
        }
    }

    /// The session's client, allowed to read every transfer.
    func viewer(_ request: Request) -> Result<Viewer, Refusal> {
        // The page's own refreshes do not keep a session alive: an open tab is not an operator.
        let isRefresh = request.headers[Self.refreshHeader] != nil
        guard let id = request.cookies[Self.sessionCookie]?.value,
            let session = sessions.session(id, now: WallClock.nowMilliseconds(), touching: !isRefresh)
        else { return .failure(.notLoggedIn) }
        guard let client = clients.clients[session.client] else { return .failure(.notLoggedIn) }
        guard client.read == .all else {
            return .failure(.forbidden("client \(client.name) lacks permission: read all (the console shows every transfer)"))
        }
        return .success(Viewer(session: session, client: client))
    }

    /// Token login: the token of a client configured with `read: all`.
    private func login(_ request: Request) async throws -> Response {
        let form = try await ConsoleForm(request, bytesMax: Self.formBytesMax)
        guard loginFormIsGenuine(request, form) else { return refusedLoginForm() }
        guard let name = clients.credentials.name(forToken: form["token"]) else {
            Self.countLogin("unknown")
            logger.notice("console login refused: unknown token")
            // Slows guessing without holding any lock.
            try? await Task.sleep(for: .milliseconds(250))
            return loginPage(flash: "That token is not a client of this coordinator.", status: .unauthorized)
        }
        return startSession(for: name, request)
    }

    /// Certificate login: the verified client certificate the browser presented.
    private func certificateLogin(_ request: Request, _ context: ConsoleRequestContext) async throws -> Response {
        let form = try await ConsoleForm(request, bytesMax: Self.formBytesMax)
        guard loginFormIsGenuine(request, form) else { return refusedLoginForm() }
        switch await clientOfCertificate(context) {
        case .success(let name):
            return startSession(for: name, request)
        case .failure(let refusal):
            Self.countLogin("unknown")
            let why = if case .forbidden(let text) = refusal { text } else { "no certificate" }
            return loginPage(flash: "Certificate login refused: \(why).", status: .unauthorized)
        }
    }

    /// The login form came from this console: its hidden nonce matches the cookie set with it.
    private func loginFormIsGenuine(_ request: Request, _ form: ConsoleForm) -> Bool {
        guard let nonce = request.cookies[Self.loginCookie]?.value, !nonce.isEmpty else { return false }
        return ConsoleSessions.tokensMatch(form["csrf"], nonce)
    }

    private func refusedLoginForm() -> Response {
        Self.countLogin("refused")
        return loginPage(flash: "The login form expired or came from elsewhere; try again.", status: .forbidden)
    }

    private func startSession(for name: String, _ request: Request) -> Response {
        guard let client = clients.clients[name], client.read == .all else {
            Self.countLogin("forbidden")
            return loginPage(flash: "Client \(name) may not read all transfers (read: all), which the console needs.", status: .forbidden)
        }
        if let previous = request.cookies[Self.sessionCookie]?.value { sessions.end(previous) }
        guard let session = sessions.start(client: name, now: WallClock.nowMilliseconds()) else {
            Self.countLogin("full")
            logger.warning("console login refused: \(ConsoleSessions.sessionsMax) sessions are live", metadata: ["client": "\(name)"])
            return loginPage(flash: "The console has as many sessions as it keeps; try again once some end.", status: .serviceUnavailable)
        }
        Self.countLogin("ok")
        logger.notice("console login", metadata: ["client": "\(name)"])
        var response = Response(status: .seeOther, headers: [.location: "/"])
        response.setCookie(
            Cookie(name: Self.sessionCookie, value: session.id, path: "/", secure: secureCookies, httpOnly: true, sameSite: .strict)
        )
        return response
    }

    /// Only the session's own form may end it, or clear its cookie: a browser sends another site's
    /// form to `/logout` with the cookie, and clearing it then would let any page on the web log
    /// the operators out. Without a live session there is nothing to protect, and the cookie goes.
    private func logout(_ request: Request) async throws -> Response {
        let form = try await ConsoleForm(request, bytesMax: Self.formBytesMax)
        if case .success(let viewer) = viewer(request) {
            guard ConsoleSessions.tokensMatch(form["csrf"], viewer.session.csrfToken) else {
                return Refusal.forbidden("the logout form's CSRF token does not match your session; log out from a page of this console")
                    .response(self)
            }
            sessions.end(viewer.session.id)
        }
        var response = Response(status: .seeOther, headers: [.location: "/login"])
        response.setCookie(
            Cookie(name: Self.sessionCookie, value: "", maxAge: 0, path: "/", secure: secureCookies, httpOnly: true, sameSite: .strict))
        return response
    }

    private static func countLogin(_ result: String) {
        Counter(label: "settle_console_logins_total", dimensions: [("result", result)]).increment()
    }

    // MARK: Responses

    func html(_ body: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: body))
        )
    }

    private static func asset(_ text: String, type: String) -> Response {
        Response(status: .ok, headers: [.contentType: type], body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}

/// What a browser may do with the console's pages: nothing from elsewhere, no framing, nothing
/// cached, no referrer leaking transfer ids.
struct SecurityHeaders<Context: RequestContext>: RouterMiddleware {
    static var referrerPolicy: HTTPField.Name { HTTPField.Name("Referrer-Policy") ?? .cacheControl }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        response.headers[.contentSecurityPolicy] =
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
            + "frame-ancestors 'none'; base-uri 'none'"
        response.headers[.xContentTypeOptions] = "nosniff"
        response.headers[Self.referrerPolicy] = "no-referrer"
        response.headers[.cacheControl] = "no-store"
        return response
    }
}
