import Mustache

/// The console's pages as Mustache templates. They live in the binary, not in files beside it,
/// so an installed settled needs nothing else to serve them. Every `{{value}}` is HTML-escaped;
/// `{{{chart}}}` is only ever SVG the server drew from numbers.
enum ConsoleTemplates {
    /// Every template, parsed, each escaping with `ConsoleHTMLEscaping` (a template's content type
    /// is fixed when it is parsed, so it is registered first).
    static func library() throws -> MustacheLibrary {
        MustacheContentTypes.register(ConsoleHTMLEscaping(), named: ConsoleHTMLEscaping.name)
        var templates: [String: MustacheTemplate] = [:]
        for (name, text) in all {
            templates[name] = try MustacheTemplate(string: "{{% CONTENT_TYPE: \(ConsoleHTMLEscaping.name)}}" + text)
        }
        return MustacheLibrary(templates: templates)
    }

    static let all: [String: String] = [
        "layout": layout, "login": login, "overview": overview, "transfers": transfers, "transfer": transfer, "stuck": stuck,
        "in-doubt": inDoubt, "participants": participants, "message": message,
    ]

    static let layout = """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><title>{{$title}}Settle{{/title}} · settled {{coordinator}}</title>
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <link rel="stylesheet" href="/static/console.css"><script src="/static/console.js" defer></script></head>
        <body data-refresh="{{refresh}}">
        <header><strong>Settle</strong> <span class="muted">coordinator {{coordinator}}</span>
        <nav><a href="/" id="nav-overview">Overview</a> <a href="/transfers" id="nav-transfers">Transfers</a>
        <a href="/stuck" id="nav-stuck">Stuck</a> <a href="/in-doubt" id="nav-in-doubt">In doubt</a>
        <a href="/participants" id="nav-participants">Participants</a></nav>
        {{#user}}<form method="post" action="/logout" class="logout"><input type="hidden" name="csrf" value="{{csrf}}">{{#id}}<input type="hidden" name="id" value="{{id}}">{{/id}}
        <span id="user">{{user}}{{#operator}} (operator){{/operator}}</span> <button type="submit">Log out</button></form>{{/user}}
        </header>
        {{#flash}}<p class="flash" id="flash">{{flash}}</p>{{/flash}}
        <main id="main">{{$body}}{{/body}}</main>
        </body></html>
        """

    static let login = """
        {{<layout}}{{$title}}Log in{{/title}}{{$body}}
        <h1>Log in</h1>
        <p>Use a client token of this coordinator; the console needs <code>read: all</code>, and actions need <code>operator</code>.</p>
        <form method="post" action="/login" id="login-form"><input type="hidden" name="csrf" value="{{loginCSRF}}">
        <label>Token <input type="password" name="token" id="token" autocomplete="off" required></label>
        <button type="submit" id="login">Log in</button></form>
        {{#certificateLogin}}<form method="post" action="/login/certificate" id="certificate-login-form">
        <input type="hidden" name="csrf" value="{{loginCSRF}}">
        <button type="submit" id="certificate-login">Log in with your client certificate</button></form>{{/certificateLogin}}
        {{/body}}{{/layout}}
        """

    static let overview = """
        {{<layout}}{{$title}}Overview{{/title}}{{$body}}
        <h1>Overview</h1>
        <section class="numbers">
        <div><span class="big" id="in-flight">{{inFlight}}</span> in flight</div>
        <div><span class="big">{{rate}}</span> transfers/s (last minute)</div>
        <div><span class="big">{{p50}}</span> p50 ms · <span class="big">{{p99}}</span> p99 ms</div>
        <div><span class="big">{{sealRate}}</span> seals/s · <span class="big">{{batchSize}}</span> records a batch</div>
        </section>
        <h2>Outcomes, last {{minutes}} minutes</h2>
        <table><tr><th>committed</th><th>aborted</th><th>compensated</th><th>stuck</th></tr>
        <tr><td>{{committed}}</td><td>{{aborted}}</td><td>{{compensated}}</td><td>{{stuckCount}}</td></tr></table>
        <div class="charts">
        <figure><figcaption>Transfers finished per second</figcaption>{{{rateChart}}}</figure>
        <figure><figcaption>Latency, ms (p50 solid, p99 dashed)</figcaption>{{{latencyChart}}}</figure>
        <figure><figcaption>In flight</figcaption>{{{inFlightChart}}}</figure>
        <figure><figcaption>Log seals per second (solid) and records a batch (dashed)</figcaption>{{{sealChart}}}</figure>
        </div>
        <h2>Participants</h2>
        <table><tr><th>participant</th><th>reachable</th><th>in doubt</th><th>warnings</th></tr>
        {{#participants}}<tr><td>{{name}}</td><td>{{reachable}}</td><td>{{inDoubt}}</td><td>{{warnings}}</td></tr>{{/participants}}
        </table>
        {{/body}}{{/layout}}
        """

    static let transfers = """
        {{<layout}}{{$title}}Transfers{{/title}}{{$body}}
        <h1>Transfers</h1>
        <form method="get" action="/transfers" class="filters" id="search">
        <label>Id <input name="id" id="search-id" value="{{filter.id}}"></label>
        <label>State <select name="state">{{#states}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/states}}</select></label>
        <label>Participant <select name="participant">{{#participantOptions}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/participantOptions}}</select></label>
        <label>Path <select name="path">{{#paths}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/paths}}</select></label>
        <label>Last <input name="minutes" size="5" value="{{filter.minutes}}"> minutes</label>
        <button type="submit" id="search-button">Search</button></form>
        <table id="transfer-list"><tr><th>id</th><th>state</th><th>path</th><th>submitted</th><th>by</th><th>branches</th></tr>
        {{#rows}}<tr><td><a href="/transfer?id={{link}}">{{id}}</a></td><td class="state-{{state}}">{{state}}</td><td>{{path}}</td>
        <td>{{submitted}}</td><td>{{submittedBy}}</td><td>{{branches}}</td></tr>{{/rows}}
        </table>
        {{^rows}}<p>No transfer matches.</p>{{/rows}}
        {{#next}}<p><a href="{{next}}" id="next-page">Older →</a></p>{{/next}}
        {{/body}}{{/layout}}
        """

    static let transfer = """
        {{<layout}}{{$title}}Transfer {{id}}{{/title}}{{$body}}
        <h1>Transfer <span id="transfer-id">{{id}}</span></h1>
        <p>State <strong id="transfer-state" class="state-{{state}}">{{state}}</strong>{{#path}} by {{path}}{{/path}}
        · submitted {{submitted}} by {{submittedBy}}{{#finished}} · finished {{finished}}{{/finished}}</p>
        {{#reason}}<p>Reason: <span id="transfer-reason">{{reason}}</span></p>{{/reason}}
        {{#proposal}}<p id="proposal">Proposed: {{proposal}}</p>{{/proposal}}
        <h2>Branches</h2>
        <table id="branches"><tr><th>#</th><th>participant</th><th>action</th><th>compensation</th><th>state</th><th>retry</th><th>last error</th></tr>
        {{#branches}}<tr><td>{{index}}</td><td>{{participant}}</td><td>{{action}}</td><td>{{compensation}}</td><td>{{state}}</td>
        <td>{{retry}}</td><td>{{lastError}}</td></tr>{{/branches}}</table>
        {{#canRetry}}<form method="post" action="/transfer/retry"><input type="hidden" name="csrf" value="{{csrf}}">{{#id}}<input type="hidden" name="id" value="{{id}}">{{/id}}
        <button type="submit" id="retry-now">Retry now</button></form>{{/canRetry}}
        <h2>Timeline</h2>
        {{#timelineError}}<p class="flash">{{timelineError}}</p>{{/timelineError}}
        <table id="timeline"><tr><th>LSN</th><th>time</th><th>record</th><th>seal</th><th>payload</th></tr>
        {{#timeline}}<tr><td>{{lsn}}</td><td>{{time}}</td><td class="record">{{type}}</td>
        <td class="seal-{{verifies}}">#{{seal}} {{verifies}}</td><td><code>{{payload}}</code></td></tr>{{/timeline}}</table>
        {{/body}}{{/layout}}
        """

    static let stuck = """
        {{<layout}}{{$title}}Stuck{{/title}}{{$body}}
        <h1>Stuck transfers</h1>
        <p>Each waits for an operator: look at its branches at their participants, put them right, then record the outcome.
        {{#fourEyes}}Four-eyes is on: a resolution takes effect once a second operator approves it.{{/fourEyes}}</p>
        {{^rows}}<p id="none-stuck">Nothing is stuck.</p>{{/rows}}
        {{#rows}}<section class="stuck" id="stuck-{{link}}"><h2><a href="/transfer?id={{link}}">{{id}}</a></h2>
        <p>{{reason}}</p>
        <ul>{{#branches}}<li>{{participant}} {{action}}: {{state}}{{#lastError}} — {{lastError}}{{/lastError}}</li>{{/branches}}</ul>
        {{#proposal}}<p class="proposal">Proposed: {{proposal}}, because: {{proposalReason}}</p>
        <form method="post" action="/transfer/approve" class="inline"><input type="hidden" name="csrf" value="{{csrf}}">{{#id}}<input type="hidden" name="id" value="{{id}}">{{/id}}
        <input type="hidden" name="seenOutcome" value="{{proposalOutcome}}"><input type="hidden" name="seenOperator" value="{{proposalOperator}}"><input type="hidden" name="seenReason" value="{{proposalReason}}"><button type="submit" class="approve">Approve</button></form>
        <form method="post" action="/transfer/reject" class="inline"><input type="hidden" name="csrf" value="{{csrf}}">{{#id}}<input type="hidden" name="id" value="{{id}}">{{/id}}
        <input type="hidden" name="seenOutcome" value="{{proposalOutcome}}"><input type="hidden" name="seenOperator" value="{{proposalOperator}}"><input type="hidden" name="seenReason" value="{{proposalReason}}"><input name="reason" placeholder="why" required><button type="submit" class="reject">Reject</button></form>{{/proposal}}
        {{^proposal}}<form method="post" action="/transfer/resolve" class="resolve"><input type="hidden" name="csrf" value="{{csrf}}">{{#id}}<input type="hidden" name="id" value="{{id}}">{{/id}}
        <select name="outcome"><option value="COMMITTED">committed</option><option value="COMPENSATED">compensated</option>
        <option value="ABORTED">aborted</option></select>
        <input name="reason" placeholder="what you checked and did" required size="40">
        <button type="submit" class="resolve-button">Resolve</button></form>{{/proposal}}
        </section>{{/rows}}
        {{/body}}{{/layout}}
        """

    static let inDoubt = """
        {{<layout}}{{$title}}In doubt{{/title}}{{$body}}
        <h1>In doubt</h1>
        <h2>Branches prepared at participants</h2>
        <p class="muted">As the watchdog last saw them (every {{intervalSeconds}} s).</p>
        <table id="prepared"><tr><th>participant</th><th>gid</th><th>age</th><th>sessions waiting</th><th>the log says</th></tr>
        {{#prepared}}<tr><td>{{participant}}</td><td><code>{{gid}}</code></td><td>{{age}}</td><td>{{blocked}}</td>
        <td>{{#link}}<a href="/transfer?id={{link}}">{{/link}}{{logSays}}{{#link}}</a>{{/link}}</td></tr>{{/prepared}}</table>
        {{^prepared}}<p>No branch is prepared.</p>{{/prepared}}
        <h2>Retrying</h2>
        <table id="retrying"><tr><th>transfer</th><th>branch</th><th>operation</th><th>attempts</th><th>next attempt</th><th>last error</th><th></th></tr>
        {{#retrying}}<tr><td><a href="/transfer?id={{link}}">{{id}}</a></td><td>{{participant}}</td><td>{{operation}}</td>
        <td class="attempts">{{attempts}}</td><td>{{next}}</td><td>{{lastError}}</td>
        <td><form method="post" action="/transfer/retry"><input type="hidden" name="csrf" value="{{csrf}}">{{#id}}<input type="hidden" name="id" value="{{id}}">{{/id}}
        <button type="submit" class="retry-now">Retry now</button></form></td></tr>{{/retrying}}</table>
        {{^retrying}}<p>Nothing is waiting to retry.</p>{{/retrying}}
        {{/body}}{{/layout}}
        """

    static let participants = """
        {{<layout}}{{$title}}Participants{{/title}}{{$body}}
        <h1>Participants</h1>
        <table id="participant-list"><tr><th>participant</th><th>address</th><th>reachable</th><th>in doubt</th><th>oldest</th>
        <th>sessions waiting</th><th>prepared slots</th><th>warnings</th><th>as of</th></tr>
        {{#rows}}<tr><td>{{name}}</td><td>{{address}}</td><td>{{reachable}}</td><td>{{inDoubt}}</td><td>{{oldest}}</td><td>{{blocked}}</td>
        <td>{{slots}}</td><td>{{warnings}}</td><td>{{at}}</td></tr>{{/rows}}</table>
        {{/body}}{{/layout}}
        """

    static let message = """
        {{<layout}}{{$title}}{{heading}}{{/title}}{{$body}}
        <h1>{{heading}}</h1><p id="message">{{text}}</p>
        {{/body}}{{/layout}}
        """
}
