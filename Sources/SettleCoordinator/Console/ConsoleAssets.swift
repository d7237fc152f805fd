/// The console's stylesheet and script, served from the binary. The script only refreshes the
/// page's main section while it is shown; every page works without it.
enum ConsoleAssets {
    static let css = """
        body { font: 14px system-ui, sans-serif; margin: 0; color: #1d232a; }
        header { background: #1d3557; color: #fff; padding: 8px 16px; display: flex; gap: 24px; align-items: center; }
        header a { color: #fff; margin-right: 12px; } header .muted { color: #c8d3e0; }
        header form.logout { margin-left: auto; }
        main { padding: 8px 16px; }
        table { border-collapse: collapse; margin: 8px 0; } th, td { border-bottom: 1px solid #dde; padding: 4px 8px; text-align: left; vertical-align: top; }
        code { font-size: 12px; word-break: break-all; }
        .numbers { display: flex; gap: 32px; } .big { font-size: 22px; font-weight: 600; }
        .charts { display: grid; grid-template-columns: repeat(2, minmax(300px, 1fr)); gap: 16px; }
        figure { margin: 0; } figcaption { color: #556; }
        .flash { background: #fff3cd; padding: 6px 10px; border: 1px solid #e0c36c; }
        .state-stuck, .seal-false { color: #b00020; font-weight: 600; } .state-committed { color: #1b7f3b; }
        .muted { color: #667; } section.stuck { border: 1px solid #dde; padding: 4px 12px; margin: 8px 0; }
        form.inline { display: inline; } .filters label { margin-right: 12px; }
        """

    static let javascript = """
        // Refreshes <main> every few seconds on pages that ask for it: one request at a time, not
        // while the tab is hidden or a form field has focus, marked so that it does not count as
        // the operator's activity; once the session has ended it shows the login page instead.
        (function () {
          var seconds = parseInt(document.body.getAttribute('data-refresh') || '0', 10);
          if (!seconds) return;
          function later() { setTimeout(refresh, seconds * 1000); }
          function refresh() {
            var active = document.activeElement;
            if (document.hidden || (active && (active.tagName === 'INPUT' || active.tagName === 'SELECT'))) { later(); return; }
            fetch(window.location.href, { credentials: 'same-origin', headers: { 'X-Settle-Refresh': '1' } })
              .then(function (response) {
                if (response.redirected && new URL(response.url).pathname === '/login') { window.location.assign('/login'); return null; }
                return response.ok ? response.text() : null;
              })
              .then(function (html) {
                if (html) {
                  var fresh = new DOMParser().parseFromString(html, 'text/html').getElementById('main');
                  if (fresh) document.getElementById('main').replaceWith(fresh);
                }
                later();
              })
              .catch(later);
          }
          later();
        })();
        """
}
