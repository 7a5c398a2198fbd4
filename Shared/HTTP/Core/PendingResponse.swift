import Foundation

/// A response that another thread will produce later (the gateway's proxy answers this way while its
/// upstream call runs on the HTTP client's I/O thread, so no worker thread waits).
///
/// A handler returns `Response.pending(p)`; middleware that post-processes responses uses
/// `Response.map`, which for a pending response queues the change until it completes. The server
/// applies the queued changes on the connection's event-loop thread, so they must not block.
///
/// Thread-safety: every field is guarded by `lock`.
public final class PendingResponse: @unchecked Sendable {
    private let lock = NSLock()
    private var result: Response?
    private var transforms: [@Sendable (Response) -> Response] = []
    private var listener: (@Sendable (Response) -> Void)?

    public init() {}

    /// Delivers the response; only the first call counts.
    public func complete(_ response: Response) {
        lock.lock()
        guard result == nil else { lock.unlock(); return }
        result = response
        let notify = listener
        listener = nil
        lock.unlock()
        notify?(response)
    }

    /// Queues a change to apply to the response once it exists.
    func append(_ transform: @escaping @Sendable (Response) -> Response) {
        lock.lock()
        transforms.append(transform)
        lock.unlock()
    }

    /// Calls `listener` with the raw response when it arrives (at once if it has). One listener.
    func whenComplete(_ listener: @escaping @Sendable (Response) -> Void) {
        lock.lock()
        if let result {
            lock.unlock()
            listener(result)
            return
        }
        self.listener = listener
        lock.unlock()
    }

    /// The raw response with every queued change applied, in the order queued (innermost first).
    func finalize(_ raw: Response) -> Response {
        lock.lock()
        let queued = transforms
        lock.unlock()
        var response = raw
        for transform in queued { response = transform(response) }
        return response
    }

    /// Blocks until complete or `timeout` passes (the socket-free test client uses this).
    func wait(timeout: TimeInterval) -> Response? {
        let semaphore = DispatchSemaphore(value: 0)
        let box = ResultBox()
        whenComplete { response in
            box.set(response)
            semaphore.signal()
        }
        guard semaphore.wait(timeout: .now() + timeout) == .success, let raw = box.get() else { return nil }
        return finalize(raw)
    }

    private final class ResultBox: @unchecked Sendable {
        // Thread-safety: guarded by `lock`.
        private let lock = NSLock()
        private var value: Response?
        func set(_ v: Response) { lock.lock(); value = v; lock.unlock() }
        func get() -> Response? { lock.lock(); defer { lock.unlock() }; return value }
    }
}

extension Response {
    /// A response produced later by `pending.complete(_:)`.
    public static func pending(_ pending: PendingResponse) -> Response {
        Response(status: 0, body: .pending(pending))
    }

    /// Applies `transform` now, or when a pending response completes. Middleware that reads or
    /// changes the response after `next` must use this, so it sees the real status of a pending one.
    public func map(_ transform: @escaping @Sendable (Response) -> Response) -> Response {
        if case .pending(let pending) = body {
            pending.append(transform)
            return self
        }
        return transform(self)
    }
}
