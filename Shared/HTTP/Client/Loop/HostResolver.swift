import CLinux
import Foundation
import Synchronization

/// Host names turned into addresses for transfers on event loops, which must never block on DNS:
/// a name not yet known is resolved on a thread of its own while that call takes the libcurl path.
/// Answers are kept for `timeToLive`, and a stale one is used while it is renewed.
///
/// Thread-safety: the table is guarded by a mutex; any thread may ask.
final class HostResolver: Sendable {
    static let shared = HostResolver()

    private struct Entry {
        var address: String?
        var expires: UInt64
        var resolving: Bool
    }

    private let entries = Mutex<[String: Entry]>([:])
    let timeToLiveNs: UInt64 = 30_000_000_000
    let failureTimeToLiveNs: UInt64 = 5_000_000_000
    let maxEntries = 1_024
    /// Names resolved at once, each on a thread of its own; more wait for their next request.
    let maxResolving = 8

    /// The numeric address for `host` (an IP literal is its own), or nil while it is unknown.
    func address(of host: String) -> String? {
        if Self.isLiteral(host) { return host }
        let now = MonotonicClock.nanoseconds()
        let (known, mustResolve) = entries.withLock { table -> (String?, Bool) in
            if var entry = table[host] {
                if entry.expires > now || entry.resolving { return (entry.address, false) }
                entry.resolving = true
                table[host] = entry
                return (entry.address, true)
            }
            if table.values.filter({ $0.resolving }).count >= maxResolving { return (nil, false) }
            if table.count >= maxEntries {
                // Forget one settled name (never one being resolved: its thread will write it back).
                if let victim = table.first(where: { !$0.value.resolving })?.key { table[victim] = nil } else { return (nil, false) }
            }
            table[host] = Entry(address: nil, expires: 0, resolving: true)
            return (nil, true)
        }
        if mustResolve { resolveInBackground(host) }
        return known
    }

    private func resolveInBackground(_ host: String) {
        let thread = Thread { [self] in
            var buffer = [CChar](repeating: 0, count: 64)
            let rc = buffer.withUnsafeMutableBufferPointer { lattice_resolve_host(host, $0.baseAddress, 64) }
            let address = rc == 0 ? buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) } : nil
            let now = MonotonicClock.nanoseconds()
            entries.withLock { table in
                // A failed renewal keeps the last good address until the next try.
                let previous = table[host]?.address
                table[host] = Entry(address: address ?? previous,
                                    expires: now &+ (address == nil ? failureTimeToLiveNs : timeToLiveNs), resolving: false)
            }
        }
        thread.name = "host-resolver"
        thread.start()
    }

    /// IPv4 dotted quads and IPv6 literals (the URL's brackets already removed), as `inet_pton` reads
    /// them: `127.1` or a zone index is not one (libcurl, which understands those, takes them).
    static func isLiteral(_ host: String) -> Bool {
        var buffer = [UInt8](repeating: 0, count: 16)
        return inet_pton(AF_INET, host, &buffer) == 1 || inet_pton(AF_INET6, host, &buffer) == 1
    }
}
