import Foundation

/// Names a replica in lease columns (`lease_owner`, `locked_by`, `last_run_by`) so an operator can tell
/// which process holds or held a row: `<prefix>@<host>:<pid>:<random>`.
public enum InstanceName {
    /// A name unique to this process and call, at most 120 characters.
    public static func make(_ prefix: String) -> String {
        // Only characters every lease column check accepts; anything else becomes `_`.
        let host = String(ProcessInfo.processInfo.hostName.prefix(60).map { c in
            c.isASCII && (c.isLetter || c.isNumber || c == "-" || c == ".") ? c : "_"
        })
        let random = UUID().uuidString.prefix(8).lowercased()
        let safePrefix = String(prefix.prefix(30).map { c in
            c.isASCII && (c.isLetter || c.isNumber || c == "-" || c == "." || c == "_") ? c : "_"
        })
        return String("\(safePrefix)@\(host):\(getpid()):\(random)".prefix(120))
    }
}
