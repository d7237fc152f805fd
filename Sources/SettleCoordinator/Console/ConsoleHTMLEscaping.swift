import Mustache

/// The console's HTML escaping, by Unicode scalar. swift-mustache's own compares whole Characters
/// (grapheme clusters), so a quote followed by a combining mark (`"\u{301}`) is one Character that
/// is not a quote and went out unescaped, while a browser still ends an attribute at the quote: an
/// operator's reason or a search could add attributes to a form field.
struct ConsoleHTMLEscaping: MustacheContentType {
    /// The name templates ask for it by (`{{% CONTENT_TYPE: … }}`).
    static let name = "SETTLE_HTML"

    func escapeText(_ text: String) -> String {
        var escaped = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            switch scalar {
            case "<": escaped.append(contentsOf: "&lt;".unicodeScalars)
            case ">": escaped.append(contentsOf: "&gt;".unicodeScalars)
            case "&": escaped.append(contentsOf: "&amp;".unicodeScalars)
            case "\"": escaped.append(contentsOf: "&quot;".unicodeScalars)
            case "'": escaped.append(contentsOf: "&#39;".unicodeScalars)
            default: escaped.append(scalar)
            }
        }
        return String(escaped)
    }
}
