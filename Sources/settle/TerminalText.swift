/// Text from the network, made safe to print on a terminal.
enum TerminalText {
    /// Control characters (C0, DEL, C1 — which include ESC and CSI, the start of every terminal
    /// escape sequence) become `\u{…}`, and a backslash becomes `\\`, so what is printed can be
    /// read back unambiguously and can never act on the terminal.
    static func escaped(_ text: String) -> String {
        var result = ""
        result.unicodeScalars.reserveCapacity(text.unicodeScalars.count)
        for scalar in text.unicodeScalars {
            switch scalar.value {
            case 0x5C:
                result += "\\\\"
            case 0x00...0x1F, 0x7F...0x9F:
                result += "\\u{\(String(scalar.value, radix: 16))}"
            default:
                result.unicodeScalars.append(scalar)
            }
        }
        return result
    }
}
