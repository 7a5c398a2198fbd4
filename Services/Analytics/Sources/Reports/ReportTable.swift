import Contracts
import Foundation
import HTTP

/// A report as rows of cells, for `?format=csv`: the header carries the columns' Chinese labels (the
/// JSON answer uses the English keys), the file starts with a UTF-8 byte-order mark so that Excel reads
/// the Chinese right, and cells are quoted per RFC 4180.
public struct ReportTable: Sendable, Equatable {
    public enum Cell: Sendable, Equatable {
        case text(String?)
        case integer(Int)
        case number(Double?)
        /// Already formatted, e.g. a money amount "12.50".
        case decimal(String)
    }

    public var columns: [(key: String, label: String)]
    public var rows: [[Cell]]

    public init(columns: [(key: String, label: String)], rows: [[Cell]]) {
        self.columns = columns
        self.rows = rows
    }

    public static func == (a: ReportTable, b: ReportTable) -> Bool {
        a.columns.map(\.key) == b.columns.map(\.key) && a.columns.map(\.label) == b.columns.map(\.label) && a.rows == b.rows
    }

    /// The CSV text (CRLF line ends, as RFC 4180 writes them).
    public var csv: String {
        var out = "\u{FEFF}"
        out += columns.map { Self.quoted($0.label) }.joined(separator: ",") + "\r\n"
        for row in rows {
            out += row.map(Self.render).joined(separator: ",") + "\r\n"
        }
        return out
    }

    static func render(_ cell: Cell) -> String {
        switch cell {
        case .text(let s): return s.map { quoted(defused($0)) } ?? ""
        case .integer(let n): return String(n)
        case .number(let d): return d.map { $0.isFinite ? String(format: "%.6g", $0) : "" } ?? ""
        case .decimal(let s): return s
        }
    }

    /// A text cell a spreadsheet would run as a formula (=, +, -, @, tab, CR first) gets a leading
    /// apostrophe: ids and reasons come from other systems, and a report must not carry code to a desk.
    static func defused(_ text: String) -> String {
        guard let first = text.unicodeScalars.first, "=+-@\t\r".unicodeScalars.contains(first) else { return text }
        return "'" + text
    }

    /// Quoted when it holds a comma, a quote, CR or LF (quotes doubled).
    static func quoted(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\r" || $0 == "\n" || $0 == "\r\n" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// The CSV answer, downloaded as `name.csv`.
    public func response(fileName: String) -> Response {
        Response(status: 200, headers: ["content-type": "text/csv; charset=utf-8",
                                        "content-disposition": "attachment; filename=\"\(fileName).csv\""],
                 body: .bytes(Array(csv.utf8)))
    }
}

/// A report that answers as JSON or as a CSV table.
public protocol TabularReport: Encodable {
    var table: ReportTable { get }
    var fileName: String { get }
}
