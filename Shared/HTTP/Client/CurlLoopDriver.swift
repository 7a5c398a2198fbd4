import CCurl
import CLinux
import Foundation

/// Runs HTTP client transfers on an HTTP server's event loop: libcurl's sockets join the loop's epoll
/// set and its timer the loop's timer (curl_multi_socket_action), so a handler on the loop can call
/// another service and answer when the reply arrives without any thread hop — the way the gateway
/// proxies reads.
///
/// Thread-safety: used only on its loop's thread (submissions, callbacks and completions alike).
final class CurlLoopDriver: LoopWatcher {
    typealias Completion = (AttemptOutcome) -> Void

    private struct Submission {
        let request: PreparedRequest
        let pool: CurlHandlePool
        let configuration: HTTPClient.Configuration
        let completion: Completion
        let deadline: UInt64
    }

    private final class Active {
        let handle: CurlEasyHandle
        let setup: TransferSetup
        let pool: CurlHandlePool
        let completion: Completion
        init(handle: CurlEasyHandle, setup: TransferSetup, pool: CurlHandlePool, completion: @escaping Completion) {
            self.handle = handle
            self.setup = setup
            self.pool = pool
            self.completion = completion
        }
    }

    private unowned let loop: EventLoop
    private let multi: UnsafeMutableRawPointer
    private var active: [UnsafeMutableRawPointer: Active] = [:]
    /// Waiting for a free handle of their client's pool, oldest first.
    private var waiting: [Submission] = []
    private var acting = false

    init?(loop: EventLoop) {
        guard CurlGlobal.initResult == CURLE_OK, let multi = curl_multi_init() else { return nil }
        self.loop = loop
        self.multi = multi
        // Keep kept-alive upstream connections: libcurl's default cache is sized by the handles added at
        // the moment, which for short transfers means closing and reopening connections all the time.
        _ = lattice_curl_multi_setopt_long(multi, CURLMOPT_MAXCONNECTS, 1024)
        let me = Unmanaged.passUnretained(self).toOpaque()
        _ = lattice_curl_multi_setopt_socket_callback(multi, { _, socket, what, userp, _ in
            guard let userp else { return 0 }
            Unmanaged<CurlLoopDriver>.fromOpaque(userp).takeUnretainedValue().socketChanged(socket, what)
            return 0
        }, me)
        _ = lattice_curl_multi_setopt_timer_callback(multi, { _, timeoutMs, userp in
            guard let userp else { return 0 }
            Unmanaged<CurlLoopDriver>.fromOpaque(userp).takeUnretainedValue().timerChanged(timeoutMs)
            return 0
        }, me)
    }

    /// The driver of the calling thread's event loop, or nil off a loop.
    static var current: CurlLoopDriver? {
        guard let loop = EventLoop.current else { return nil }
        if let driver = loop.clientDriver { return driver }
        let driver = CurlLoopDriver(loop: loop)
        loop.clientDriver = driver
        return driver
    }

    /// Starts a transfer; `completion` runs later on this loop (or at once on a setup failure).
    func submit(_ request: PreparedRequest, pool: CurlHandlePool, configuration: HTTPClient.Configuration,
                completion: @escaping Completion) {
        let deadline = MonotonicClock.nanoseconds() &+ UInt64(max(request.timeoutMs, 1)) * 1_000_000
        let submission = Submission(request: request, pool: pool, configuration: configuration,
                                    completion: completion, deadline: deadline)
        if !waiting.isEmpty || !begin(submission) { waiting.append(submission) }
    }

    /// False when the pool has no free handle (the submission must wait).
    private func begin(_ s: Submission) -> Bool {
        let handle: CurlEasyHandle
        do {
            handle = try s.pool.checkout(deadline: Date())
        } catch .timeout {
            return false
        } catch {
            s.completion(.failure(error, newConnections: 0))
            return true
        }
        let setup = configureTransfer(s.request, on: handle, configuration: s.configuration)
        let transfer = Active(handle: handle, setup: setup, pool: s.pool, completion: s.completion)
        guard setup.error == CURLE_OK, curl_multi_add_handle(multi, handle.easy) == CURLM_OK else {
            finish(transfer, setup.error == CURLE_OK ? CURLE_FAILED_INIT : setup.error)
            return true
        }
        active[handle.easy] = transfer
        return true
    }

    // MARK: libcurl → loop

    private func socketChanged(_ socket: curl_socket_t, _ what: Int32) {
        if what == LATTICE_CURL_POLL_REMOVE() {
            loop.unwatch(fd: socket)
        } else {
            loop.watch(fd: socket, readable: what == LATTICE_CURL_POLL_IN() || what == LATTICE_CURL_POLL_INOUT(),
                       writable: what == LATTICE_CURL_POLL_OUT() || what == LATTICE_CURL_POLL_INOUT(), watcher: self)
        }
    }

    private func timerChanged(_ timeoutMs: Int) {
        guard timeoutMs >= 0 else {
            loop.setAuxiliaryTimer(deadline: nil) {}
            return
        }
        loop.setAuxiliaryTimer(deadline: MonotonicClock.nanoseconds() &+ UInt64(timeoutMs) * 1_000_000) { [weak self] in
            self?.act(socket: LATTICE_CURL_SOCKET_TIMEOUT(), events: 0)
        }
    }

    // MARK: loop → libcurl

    func loopEvent(fd: Int32, events: UInt32) {
        var mask: Int32 = 0
        if events & LATTICE_EPOLLIN() != 0 { mask |= LATTICE_CURL_CSELECT_IN() }
        if events & LATTICE_EPOLLOUT() != 0 { mask |= LATTICE_CURL_CSELECT_OUT() }
        if events & (LATTICE_EPOLLERR() | LATTICE_EPOLLHUP()) != 0 { mask |= LATTICE_CURL_CSELECT_ERR() }
        act(socket: fd, events: mask)
    }

    private func act(socket: curl_socket_t, events: Int32) {
        var running: Int32 = 0
        _ = lattice_curl_multi_socket_action(multi, socket, events, &running)
        collectFinished()
        expireAndStartWaiting()
    }

    private func collectFinished() {
        var left: Int32 = 0
        while let message = curl_multi_info_read(multi, &left) {
            guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle else { continue }
            let code = message.pointee.data.result
            curl_multi_remove_handle(multi, easy)
            guard let transfer = active.removeValue(forKey: easy) else { continue }
            finish(transfer, code)
        }
    }

    private func expireAndStartWaiting() {
        guard !waiting.isEmpty else { return }
        let now = MonotonicClock.nanoseconds()
        while let first = waiting.first {
            if first.deadline <= now {
                waiting.removeFirst()
                first.completion(.failure(.timeout, newConnections: 0))
                continue
            }
            guard begin(first) else { break }
            waiting.removeFirst()
        }
        if !waiting.isEmpty && active.isEmpty {
            // Nothing in flight will wake us: look again shortly.
            loop.setAuxiliaryTimer(deadline: now &+ 50_000_000) { [weak self] in
                self?.act(socket: LATTICE_CURL_SOCKET_TIMEOUT(), events: 0)
            }
        }
    }

    private func finish(_ transfer: Active, _ code: CURLcode) {
        let outcome = collectOutcome(code, setup: transfer.setup, handle: transfer.handle)
        transfer.setup.release()
        transfer.pool.checkin(transfer.handle)
        transfer.completion(outcome)
    }
}
