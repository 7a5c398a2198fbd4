import CCurl
import Foundation

/// libcurl's process-wide set-up, done once.
enum CurlGlobal {
    /// `curl_global_init` is not thread-safe (before libcurl 7.84, and on builds without
    /// `CURL_VERSION_THREADSAFE`). A Swift static is initialized exactly once, under `swift_once`, on
    /// first read, so clients created concurrently on several threads still run it once; every curl
    /// call in this module happens after reading it. It is never cleaned up: the process owns it.
    static let initResult: CURLcode = curl_global_init(Int(CURL_GLOBAL_ALL))
}

/// A libcurl easy handle with its error buffer. The handle keeps its live connections, DNS cache and
/// TLS sessions between transfers, which is why handles are pooled instead of made per request.
struct CurlEasyHandle {
    let easy: UnsafeMutableRawPointer
    /// `CURLOPT_ERRORBUFFER` target; curl writes the detailed message of a failed transfer here.
    let errorBuffer: UnsafeMutablePointer<CChar>

    static let errorBufferSize = Int(CURL_ERROR_SIZE)

    var errorMessage: String {
        errorBuffer[Self.errorBufferSize - 1] = 0
        return String(cString: errorBuffer)
    }
}

/// A bounded pool of easy handles. A call checks one out, uses it on its own thread and checks it back
/// in; the most recently used handle goes out first so its kept-alive connection is the one reused.
/// At most `capacity` handles exist; a caller beyond that waits until its deadline.
///
/// Thread-safety: `idle`, `created` and the counters are guarded by `condition`; a checked-out
/// handle belongs to one thread until it is checked in.
final class CurlHandlePool: @unchecked Sendable {
    private let condition = NSCondition()
    private var idle: [CurlEasyHandle] = []
    private var created = 0
    let capacity: Int

    init(capacity: Int) {
        self.capacity = min(max(capacity, 1), 4_096)
    }

    deinit {
        // No handle can be checked out here: every `send` holds a strong reference to the client,
        // which owns this pool.
        for handle in idle { Self.destroy(handle) }
    }

    /// A handle ready for a transfer, waiting at most until `deadline` when all are busy.
    func checkout(deadline: Date) throws(HTTPClientError) -> CurlEasyHandle {
        condition.lock()
        while idle.isEmpty && created >= capacity {
            if !condition.wait(until: deadline) && idle.isEmpty && created >= capacity {
                condition.unlock()
                throw .timeout
            }
        }
        if let handle = idle.popLast() {
            condition.unlock()
            return handle
        }
        created += 1
        condition.unlock()

        guard CurlGlobal.initResult == CURLE_OK else {
            release(slot: ())
            throw .transport(code: Int(CurlGlobal.initResult.rawValue), message: "curl_global_init failed")
        }
        guard let easy = curl_easy_init() else {
            release(slot: ())
            throw .transport(code: Int(CURLE_OUT_OF_MEMORY.rawValue), message: "curl_easy_init failed")
        }
        // Before anything else, and again after every reset: libcurl must never use signals (SIGALRM for
        // resolver timeouts) in a multi-threaded process.
        _ = lattice_curl_setopt_long(easy, CURLOPT_NOSIGNAL, 1)
        let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: CurlEasyHandle.errorBufferSize)
        buffer.initialize(repeating: 0, count: CurlEasyHandle.errorBufferSize)
        return CurlEasyHandle(easy: easy, errorBuffer: buffer)
    }

    /// Returns a handle after a transfer. Its options are reset (so no pointer into the finished
    /// request's memory survives) but its connections are kept.
    func checkin(_ handle: CurlEasyHandle) {
        curl_easy_reset(handle.easy)
        _ = lattice_curl_setopt_long(handle.easy, CURLOPT_NOSIGNAL, 1)
        condition.lock()
        idle.append(handle)
        condition.signal()
        condition.unlock()
    }

    /// Handles in existence, idle or checked out.
    var handleCount: Int {
        condition.lock()
        defer { condition.unlock() }
        return created
    }

    /// Gives up a slot whose handle could not be created.
    private func release(slot: Void) {
        condition.lock()
        created -= 1
        condition.signal()
        condition.unlock()
    }

    private static func destroy(_ handle: CurlEasyHandle) {
        curl_easy_cleanup(handle.easy)
        handle.errorBuffer.deallocate()
    }
}
