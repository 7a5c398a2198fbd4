/// Writes the Prometheus text exposition format, version 0.0.4.
///
/// `# HELP` text escapes `\` and newline; label values escape `\`, `"` and newline; values are written
/// as Go's `strconv.ParseFloat` reads them (`+Inf`, `-Inf`, `NaN`, integers without a decimal point).
struct PrometheusTextWriter {
    private(set) var text = ""

    init() {
        text.reserveCapacity(4096)
    }

    mutating func header(name: String, help: String, type: String) {
        text += "# HELP \(name) \(Self.escapeHelp(help))\n# TYPE \(name) \(type)\n"
    }

    /// One sample line: `name{a="x",le="0.5"} 3`.
    mutating func sample(name: String, labelNames: [String], labelValues: [String],
                         extraLabel: (name: String, value: String)? = nil, value: Double) {
        text += name
        if !labelNames.isEmpty || extraLabel != nil {
            text += "{"
            var first = true
            for (label, labelValue) in zip(labelNames, labelValues) {
                if !first { text += "," }
                first = false
                text += label + "=\"" + Self.escapeLabelValue(labelValue) + "\""
            }
            if let extraLabel {
                if !first { text += "," }
                text += extraLabel.name + "=\"" + Self.escapeLabelValue(extraLabel.value) + "\""
            }
            text += "}"
        }
        text += " " + Self.formatValue(value) + "\n"
    }

    static func escapeHelp(_ help: String) -> String {
        guard help.contains(where: { $0 == "\\" || $0 == "\n" }) else { return help }
        var out = ""
        for character in help.unicodeScalars {
            switch character {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(character)
            }
        }
        return out
    }

    static func escapeLabelValue(_ value: String) -> String {
        guard value.unicodeScalars.contains(where: { $0 == "\\" || $0 == "\"" || $0 == "\n" }) else { return value }
        var out = ""
        for character in value.unicodeScalars {
            switch character {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(character)
            }
        }
        return out
    }

    static func formatValue(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value == .infinity { return "+Inf" }
        if value == -.infinity { return "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return value.description
    }

    /// `[a-zA-Z_:][a-zA-Z0-9_:]*`
    static func isValidMetricName(_ name: String) -> Bool {
        isIdentifier(name, allowColon: true)
    }

    /// `[a-zA-Z_][a-zA-Z0-9_]*`, and not the reserved `__` prefix.
    static func isValidLabelName(_ name: String) -> Bool {
        isIdentifier(name, allowColon: false) && !name.hasPrefix("__")
    }

    private static func isIdentifier(_ name: String, allowColon: Bool) -> Bool {
        var first = true
        for byte in name.utf8 {
            let letter = (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                || byte == UInt8(ascii: "_") || (allowColon && byte == UInt8(ascii: ":"))
            let digit = byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
            if !(letter || (!first && digit)) { return false }
            first = false
        }
        return !first
    }
}
