import CCurl
import Foundation

/// Runs many transfers at once on one thread of its own with libcurl's multi interface, so that no
/// thread sits blocked per request (the gateway's proxy path).
///
/// Thread-safety: `submissions` and `stopping` are guarded by `lock`; `active` and the multi handle
/// are used only on the driver thread. Completions run on the driver thread and must not block.
final class CurlMultiDriver: @unchecked Sendable {
    typealias Completion = @Sendable (AttemptOutcome) -> Void

    private struct Submission {
        let request: PreparedRequest
        let completion: Completion
        /// When a submission still waiting for a free handle gives up.
        let deadline: Date
    }

    private final class Active {
        let handle: CurlEasyHandle
        let setup: TransferSetup
        let completion: Completion
        init(handle: CurlEasyHandle, setup: TransferSetup, completion: @escaping Completion) {
            self.handle = handle
            self.setup = setup
            self.completion = completion
        }
    }

    private let multi: UnsafeMutableRawPointer
    private let pool: CurlHandlePool
    private let configuration: HTTPClient.Configuration
    private let lock = NSLock()
    private var submissions: [Submission] = []
    private var stopping = false
    /// The driver sleeps in `curl_multi_poll`; a submitter must wake it (once).
    private var sleeping = false
    private var wakePending = false
    private var active: [UnsafeMutableRawPointer: Active] = [:]
    /// Submissions waiting for a handle (all `maxConcurrentRequests` are busy), oldest first.
    private var waiting: [Submission] = []

    init?(pool: CurlHandlePool, configuration: HTTPClient.Configuration) {
        guard CurlGlobal.initResult == CURLE_OK, let multi = curl_multi_init() else { return nil }
        self.multi = multi
        // Keep kept-alive upstream connections: libcurl's default cache is sized by the handles added at
        // the moment, which for short transfers means closing and reopening connections all the time.
        _ = lattice_curl_multi_setopt_long(multi, CURLMOPT_MAXCONNECTS, 1024)
        self.pool = pool
        self.configuration = configuration
        // The thread keeps the driver alive until `stop()` lets it finish.
        let thread = Thread { [self] in run() }
        thread.name = "http-client-multi"
        thread.start()
    }

    /// Lets the thread finish what is queued and in flight, then end (the owning client went away).
    func stop() {
        lock.lock()
        stopping = true
        lock.unlock()
        curl_multi_wakeup(multi)
    }

    /// Queues a transfer; `completion` is called exactly once, on the driver thread.
    func submit(_ request: PreparedRequest, completion: @escaping Completion) {
        lock.lock()
        let refused = stopping
        var wake = false
        if !refused {
            submissions.append(Submission(request: request, completion: completion,
                                          deadline: Date(timeIntervalSinceNow: Double(request.timeoutMs) / 1_000)))
            // A wake-up is a syscall and a context switch: only when the driver sleeps, and only once.
            wake = sleeping && !wakePending
            if wake { wakePending = true }
        }
        lock.unlock()
        if refused {
            completion(.failure(.transport(code: -3, message: "the client is shutting down"), newConnections: 0))
            return
        }
        if wake { curl_multi_wakeup(multi) }
    }

    private func run() {
        var running: Int32 = 0
        while true {
            lock.lock()
            let batch = submissions
            submissions.removeAll(keepingCapacity: true)
            let stop = stopping
            lock.unlock()
            if stop && batch.isEmpty && active.isEmpty && waiting.isEmpty { break }
            waiting.append(contentsOf: batch)
            startWaiting()

            curl_multi_perform(multi, &running)
            var left: Int32 = 0
            while let message = curl_multi_info_read(multi, &left) {
                guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle else { continue }
                let code = message.pointee.data.result
                curl_multi_remove_handle(multi, easy)
                guard let transfer = active.removeValue(forKey: easy) else { continue }
                finish(transfer, code)
            }
            startWaiting()
            // Sleep only when nothing was submitted meanwhile; wake at least every 100 ms while
            // submissions wait for a handle, to expire them on time.
            lock.lock()
            let idle = submissions.isEmpty
            if idle {
                sleeping = true
                wakePending = false
            }
            lock.unlock()
            guard idle else { continue }
            var ready: Int32 = 0
            curl_multi_poll(multi, nil, 0, waiting.isEmpty ? 1000 : 100, &ready)
            lock.lock()
            sleeping = false
            lock.unlock()
        }
        curl_multi_cleanup(multi)
    }

    /// Starts waiting submissions while handles are free; expires those past their deadline.
    private func startWaiting() {
        guard !waiting.isEmpty else { return }
        var index = 0
        let now = Date()
        while index < waiting.count {
            let submission = waiting[index]
            if submission.deadline < now {
                waiting.remove(at: index)
                submission.completion(.failure(.timeout, newConnections: 0))
                continue
            }
            switch begin(submission) {
            case .started, .failed:
                waiting.remove(at: index)
            case .noHandle:
                return   // every handle is busy; try again when a transfer finishes
            }
        }
    }

    private enum BeginOutcome { case started, failed, noHandle }

    private func begin(_ submission: Submission) -> BeginOutcome {
        let handle: CurlEasyHandle
        do {
            // Never wait here: the driver serves every other transfer too.
            handle = try pool.checkout(deadline: Date())
        } catch .timeout {
            return .noHandle
        } catch {
            submission.completion(.failure(error, newConnections: 0))
            return .failed
        }
        let setup = configureTransfer(submission.request, on: handle, configuration: configuration)
        let transfer = Active(handle: handle, setup: setup, completion: submission.completion)
        guard setup.error == CURLE_OK, curl_multi_add_handle(multi, handle.easy) == CURLM_OK else {
            finish(transfer, setup.error == CURLE_OK ? CURLE_FAILED_INIT : setup.error)
            return .failed
        }
        active[handle.easy] = transfer
        return .started
    }

    private func finish(_ transfer: Active, _ code: CURLcode) {
        let outcome = collectOutcome(code, setup: transfer.setup, handle: transfer.handle)
        transfer.setup.release()
        pool.checkin(transfer.handle)
        transfer.completion(outcome)
    }
}
