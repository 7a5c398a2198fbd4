/// A checked import row, as it waits in `import_rows` for the merge.
///
/// Built-in values are their normalized text; `present` has bit `i` set when the row sets the i-th
/// `CustomerField` (a set bit with a nil value clears the column, a clear bit keeps it).
struct StagedRow {
    var line: Int
    var customerId: String
    var present: Int32 = 0
    var orgId: String?
    var orgPath: String?
    /// By `CustomerField` index; `orgId` (index 0) is kept in `orgId`/`orgPath` instead.
    var values: [String?] = Array(repeating: nil, count: StagedRow.fieldCount)
    /// The custom-attribute patch as JSON object text (`null` removes an attribute).
    var attributesJSON: String = "{}"

    /// Sets (or, with nil, clears) built-in `field`; `orgId` is set with its path instead.
    mutating func set(_ field: CustomerField, to value: NormalizedValue?) {
        present |= Self.bit(field)
        values[field.index] = value?.sqlText
    }

    /// The custom-attribute patch, as JSON object text (nil values become `null`: removed on merge).
    mutating func setAttributes(_ attributes: some Sequence<(String, NormalizedValue?)>) {
        var json = "{"
        for (code, value) in attributes {
            if json.utf8.count > 1 { json.append(",") }
            ImportJSON.appendQuoted(code, to: &json)
            json.append(":")
            ImportJSON.append(value, to: &json)
        }
        json.append("}")
        attributesJSON = json
    }

    private static let fieldCount = CustomerField.allCases.count

    /// The bit of `field` in `present`.
    static func bit(_ field: CustomerField) -> Int32 { 1 << Int32(field.index) }

    /// `import_rows` columns in COPY order.
    static let copyStatement = """
        COPY import_rows (import_id, line, customer_id, present, org_id, org_path, \
        \(CustomerField.allCases.dropFirst().map(\.column).joined(separator: ", ")), attributes) FROM STDIN
        """

    /// Appends the row in COPY text format.
    func appendCopyText(importId: String, to buffer: inout [UInt8]) {
        CopyText.append(importId, to: &buffer)
        buffer.append(9)
        CopyText.appendInteger(line, to: &buffer)
        buffer.append(9)
        CopyText.append(customerId, to: &buffer)
        buffer.append(9)
        CopyText.appendInteger(Int(present), to: &buffer)
        buffer.append(9)
        CopyText.append(orgId, to: &buffer)
        buffer.append(9)
        CopyText.append(orgPath, to: &buffer)
        for index in 1..<values.count {
            buffer.append(9)
            CopyText.append(values[index], to: &buffer)
        }
        buffer.append(9)
        CopyText.append(attributesJSON, to: &buffer)
        buffer.append(10)
    }
}

extension CustomerField {
    /// Position in `allCases`: the bit of `StagedRow.present`. (A scan of 14 cases compares tags; a
    /// dictionary hashed per cell of an import.)
    var index: Int { Self.ordered.firstIndex(of: self)! }

    /// `allCases` once (the synthesized property builds a new array per call).
    private static let ordered = allCases

    /// The SQL cast from the staged text to the column's type (fixed text).
    var stagedCast: String {
        switch self {
        case .birthDate: return "::date"
        case .aum, .depositBalance: return "::numeric"
        case .isPayroll, .hasCreditCard: return "::boolean"
        case .registeredAt, .lastActiveAt: return "::timestamptz"
        default: return ""
        }
    }
}

/// COPY text encoding of single fields, without intermediate arrays (the hot path of an import).
enum CopyText {
    static func append(_ text: String?, to buffer: inout [UInt8]) {
        guard let text else {
            buffer.append(92)
            buffer.append(78)   // \N
            return
        }
        var plain = true
        for byte in text.utf8 where byte == 92 || byte == 9 || byte == 10 || byte == 13 {
            plain = false
            break
        }
        if plain {
            buffer.append(contentsOf: text.utf8)
            return
        }
        for byte in text.utf8 {
            switch byte {
            case 92: buffer.append(92); buffer.append(92)
            case 9: buffer.append(92); buffer.append(116)
            case 10: buffer.append(92); buffer.append(110)
            case 13: buffer.append(92); buffer.append(114)
            default: buffer.append(byte)
            }
        }
    }

    static func appendInteger(_ value: Int, to buffer: inout [UInt8]) {
        if value == 0 { buffer.append(48); return }
        var v = value.magnitude
        if value < 0 { buffer.append(45) }
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        withUnsafeMutableBytes(of: &digits) { raw in
            while v > 0 {
                raw[count] = UInt8(48 + v % 10)
                v /= 10
                count += 1
            }
            for i in stride(from: count - 1, through: 0, by: -1) { buffer.append(raw[i]) }
        }
    }
}

/// JSON text for the attribute patch, without JSONSerialization (one per row would dominate an import).
enum ImportJSON {
    static func appendQuoted(_ text: String, to out: inout String) {
        out.append("\"")
        var needsEscape = false
        for byte in text.utf8 where byte < 0x20 || byte == 34 || byte == 92 {
            needsEscape = true
            break
        }
        if !needsEscape {
            out.append(text)
        } else {
            for scalar in text.unicodeScalars {
                switch scalar {
                case "\"": out.append("\\\"")
                case "\\": out.append("\\\\")
                case "\n": out.append("\\n")
                case "\r": out.append("\\r")
                case "\t": out.append("\\t")
                default:
                    if scalar.value < 0x20 {
                        let hex = String(scalar.value, radix: 16)
                        out.append("\\u" + String(repeating: "0", count: 4 - hex.count) + hex)
                    } else {
                        out.unicodeScalars.append(scalar)
                    }
                }
            }
        }
        out.append("\"")
    }

    /// The value as a JSON value of the attributes document (same form as `NormalizedValue.jsonText`).
    static func append(_ value: NormalizedValue?, to out: inout String) {
        guard let value else { out.append("null"); return }
        switch value {
        case .text(let s): appendQuoted(s, to: &out)
        case .date, .timestamp: appendQuoted(value.sqlText, to: &out)
        case .integer, .decimal, .boolean: out.append(value.sqlText)
        }
    }
}
