import SettleAuth
import Synchronization

/// Who is logged in to the console. A session is a random id in an HttpOnly, SameSite=Strict
/// cookie, with its own random token that every state-changing form must carry (cross-site
/// request forgery). Sessions live only in this process: a restart logs everyone out.
final class ConsoleSessions: Sendable {
    struct Session: Sendable {
        let id: String
        let csrfToken: String
        /// The client, as configured: its permissions are looked up at every request, so a
        /// session never outlives a permission taken away by a restart with a new configuration.
        let client: String
        let createdAtMilliseconds: Int64
        var lastSeenAtMilliseconds: Int64
        /// What the last action did, shown once on the next page.
        var flash: String?
    }

    private let idleMilliseconds: Int64
    /// However busy, a session ends this long after login.
    static let lifetimeMilliseconds: Int64 = 12 * 3600 * 1000
    /// A client's login beyond this many live sessions ends that client's least recently used one.
    /// Per client, so that one token logging in again and again (a script gone wrong, or a
    /// read-only token in the wrong hands) ends only its own sessions, never an operator's.
    static let sessionsPerClientMax = 16
    /// Beyond this many in all, a login is refused: ending another client's session would let any
    /// client with `read: all` log the operators out.
    static let sessionsMax = 1024
    private let sessions = Mutex<[String: Session]>([:])

    init(idleMinutes: UInt32) {
        idleMilliseconds = Int64(idleMinutes) * 60_000
    }

    /// A new session for `client`; nil when the console holds `sessionsMax` live sessions of others.
    func start(client: String, now: Int64) -> Session? {
        let session = Session(
            id: Self.randomToken(), csrfToken: Self.randomToken(), client: client, createdAtMilliseconds: now, lastSeenAtMilliseconds: now
        )
        return sessions.withLock { sessions in
            sessions = sessions.filter { isAlive($0.value, now: now) }
            let own = sessions.values.filter { $0.client == client }
            if own.count >= Self.sessionsPerClientMax, let oldest = own.min(by: { $0.lastSeenAtMilliseconds < $1.lastSeenAtMilliseconds }) {
                sessions[oldest.id] = nil
            }
            guard sessions.count < Self.sessionsMax else { return nil }
            sessions[session.id] = session
            return session
        }
    }

    /// The live session with this id, its idle clock restarted when `touching`; nil once expired
    /// or unknown.
    func session(_ id: String, now: Int64, touching: Bool = true) -> Session? {
        sessions.withLock { sessions in
            guard var session = sessions[id] else { return nil }
            guard isAlive(session, now: now) else {
                sessions[id] = nil
                return nil
            }
            if touching {
                session.lastSeenAtMilliseconds = now
                sessions[id] = session
            }
            return session
        }
    }

    func end(_ id: String) { sessions.withLock { $0[id] = nil } }

    func setFlash(_ id: String, _ text: String) { sessions.withLock { $0[id]?.flash = text } }

    func takeFlash(_ id: String) -> String? {
        sessions.withLock { sessions in
            defer { sessions[id]?.flash = nil }
            return sessions[id]?.flash
        }
    }

    private func isAlive(_ session: Session, now: Int64) -> Bool {
        now - session.lastSeenAtMilliseconds < idleMilliseconds && now - session.createdAtMilliseconds < Self.lifetimeMilliseconds
    }

    /// 32 bytes from the kernel's random source, as hex (cookie-safe).
    static func randomToken() -> String {
        var generator = SystemRandomNumberGenerator()
        let digits = Array("0123456789abcdef")
        var token = ""
        for _ in 0..<32 {
            let byte = UInt8.random(in: .min ... .max, using: &generator)
            token.append(digits[Int(byte >> 4)])
            token.append(digits[Int(byte & 0x0F)])
        }
        return token
    }

    /// Compares a submitted CSRF token with the session's in constant time.
    static func tokensMatch(_ submitted: String, _ expected: String) -> Bool {
        constantTimeEqual(Array(submitted.utf8), Array(expected.utf8))
    }
}
