import CLinux
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// One epoll instance driven by one thread we own. It accepts on its own listening socket
/// (SO_REUSEPORT spreads connections over the loops), reads, parses, runs inline handlers and writes.
///
/// Thread-safety: everything here runs on the loop's thread, except `execute(_:)`, which any thread may
/// call to hand work to the loop (guarded by `tasks`, and woken through an eventfd).
final class EventLoop: @unchecked Sendable {
    let index: Int
    let server: ServerCore
    private let epfd: Int32
    private let wakeFd: Int32
    private(set) var listenFd: Int32 = -1
    private let tasks = Mutex<[@Sendable () -> Void]>([])
    private var connections: [Connection?] = []
    private(set) var connectionCount = 0
    private var running = true
    private(set) var draining = false
    private var forceCloseAt: UInt64 = .max
    private var nextSweep: UInt64 = 0
    /// `accept` ran out of descriptors: connections wait in the backlog for the next sweep.
    private var acceptRetryPending = false
    private var thread: Thread?
    private let stopped = Mutex<Bool>(false)
    var now: UInt64 = MonotonicClock.nanoseconds()
    let dateHeader = DateHeaderCache()

    // Reused by every connection of this loop for reads.
    let readScratchSize = 64 * 1024

    private static let listenerTag: UInt64 = .max
    private static let wakeTag: UInt64 = .max - 1
    /// Set in the epoll tag of descriptors watched for another component (the HTTP client's sockets).
    private static let watchTagBit: UInt64 = 1 << 40

    /// Other components' descriptors (level-triggered) and their single timer.
    private var watchers: [Int32: (watcher: any LoopWatcher, interest: UInt32)] = [:]
    private var auxiliaryDeadline: UInt64 = .max
    private var auxiliaryTimer: (() -> Void)?
    /// The HTTP client's transfers started on this loop, created on first use.
    var clientDriver: CurlLoopDriver?
    /// The HTTP client's own transport for plain-HTTP calls made on this loop, created on first use.
    var clientTransport: LoopTransport?

    /// The loop that owns the calling thread, if it is an event-loop thread.
    static var current: EventLoop? {
        guard let pointer = lattice_current_loop() else { return nil }
        return Unmanaged<EventLoop>.fromOpaque(pointer).takeUnretainedValue()
    }

    init(index: Int, server: ServerCore) throws {
        self.index = index
        self.server = server
        epfd = lattice_epoll_create()
        guard epfd >= 0 else { throw HTTPServerStartError.system("epoll_create1", errno) }
        wakeFd = lattice_eventfd()
        guard wakeFd >= 0 else { throw HTTPServerStartError.system("eventfd", errno) }
        guard lattice_epoll_ctl(epfd, EPOLL_CTL_ADD, wakeFd, LATTICE_EPOLLIN(), Self.wakeTag) == 0 else {
            throw HTTPServerStartError.system("epoll_ctl(eventfd)", errno)
        }
    }

    deinit {
        close(epfd)
        close(wakeFd)
    }

    /// Takes ownership of a listening socket. Read-only interest, edge-triggered: a listener is never
    /// watched for writability (an idle server must use no CPU).
    func adopt(listener fd: Int32) throws {
        listenFd = fd
        guard lattice_epoll_ctl(epfd, EPOLL_CTL_ADD, fd, LATTICE_EPOLLIN() | LATTICE_EPOLLET(), Self.listenerTag) == 0 else {
            throw HTTPServerStartError.system("epoll_ctl(listener)", errno)
        }
    }

    func start() {
        let t = Thread { [self] in self.run() }
        t.name = "http-loop-\(index)"
        thread = t
        t.start()
    }

    /// Runs `task` on the loop thread soon. Safe from any thread.
    func execute(_ task: @escaping @Sendable () -> Void) {
        let wasEmpty = tasks.withLock { q -> Bool in
            q.append(task)
            return q.count == 1
        }
        if wasEmpty { wake() }
    }

    private func wake() {
        var one: UInt64 = 1
        _ = withUnsafeBytes(of: &one) { write(wakeFd, $0.baseAddress, 8) }
    }

    var isStopped: Bool { stopped.withLock { $0 } }

    // MARK: The loop

    private func run() {
        lattice_set_on_event_loop(1)
        lattice_set_current_loop(Unmanaged.passUnretained(self).toOpaque())
        var events = [UInt32](repeating: 0, count: 256)
        var tags = [UInt64](repeating: 0, count: 256)
        while running {
            now = MonotonicClock.nanoseconds()
            let wakeAt = min(nextSweep, auxiliaryDeadline)
            let timeoutMs: Int32 = wakeAt > now ? Int32(min(1000, (wakeAt - now) / 1_000_000 + 1)) : 0
            let n = events.withUnsafeMutableBufferPointer { ev in
                tags.withUnsafeMutableBufferPointer { tg in
                    lattice_epoll_wait(epfd, ev.baseAddress, tg.baseAddress, 256, timeoutMs)
                }
            }
            now = MonotonicClock.nanoseconds()
            if n < 0 {
                if errno == EINTR { continue }   // a signal is no reason to stop serving
                server.log("epoll_wait failed: errno \(errno)")
                continue
            }
            for i in 0..<Int(n) {
                let tag = tags[i]
                if tag == Self.listenerTag {
                    acceptBatch()
                } else if tag == Self.wakeTag {
                    var value: UInt64 = 0
                    _ = withUnsafeMutableBytes(of: &value) { read(wakeFd, $0.baseAddress, 8) }
                    runTasks()
                } else if tag & Self.watchTagBit != 0 {
                    let fd = Int32(truncatingIfNeeded: tag & 0xFFFF_FFFF)
                    watchers[fd]?.watcher.loopEvent(fd: fd, events: events[i])
                } else if let c = connection(fd: Int32(truncatingIfNeeded: tag)) {
                    c.handle(events: events[i])
                }
            }
            if auxiliaryDeadline <= MonotonicClock.nanoseconds(), let fire = auxiliaryTimer {
                auxiliaryDeadline = .max
                fire()
            }
            // Tasks posted while we were busy (the eventfd edge may have been consumed already).
            runTasks()
            if now >= nextSweep {
                sweep()
                nextSweep = now + 250_000_000
            }
        }
        // Stopped: close whatever is left.
        clientTransport?.shutdown()
        for c in connections { c?.close() }
        if listenFd >= 0 { close(listenFd); listenFd = -1 }
        stopped.withLock { $0 = true }
    }

    private func runTasks() {
        while true {
            let batch = tasks.withLock { q -> [@Sendable () -> Void] in
                let b = q
                q.removeAll(keepingCapacity: true)
                return b
            }
            if batch.isEmpty { return }
            for t in batch { t() }
        }
    }

    private func acceptBatch() {
        var address = [CChar](repeating: 0, count: 64)
        while listenFd >= 0 {
            let fd = address.withUnsafeMutableBufferPointer { lattice_accept_peer(listenFd, $0.baseAddress, 64) }
            if fd < 0 {
                switch errno {
                case EAGAIN, EWOULDBLOCK: return
                case EINTR, ECONNABORTED, EPROTO: continue
                case EMFILE, ENFILE, ENOBUFS, ENOMEM:
                    // Out of descriptors: leave the rest in the backlog; the sweep retries (the
                    // listener is edge-triggered, so no new event would come for them).
                    server.log("accept: out of resources (errno \(errno))")
                    acceptRetryPending = true
                    return
                default:
                    server.log("accept failed: errno \(errno)")
                    return
                }
            }
            guard server.reserveConnectionSlot() else {
                // Over the connection limit: a short answer beats a silent hang.
                let busy: StaticString = "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: 74\r\n\r\n{\"error\":{\"code\":\"overloaded\",\"message\":\"too many connections, try again\"}}"
                _ = lattice_send(fd, busy.utf8Start, busy.utf8CodeUnitCount)
                close(fd)
                continue
            }
            let peer = address.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            let c = Connection(fd: fd, loop: self, remoteAddress: peer)
            guard lattice_epoll_ctl(epfd, EPOLL_CTL_ADD, fd,
                                    LATTICE_EPOLLIN() | LATTICE_EPOLLOUT() | LATTICE_EPOLLRDHUP() | LATTICE_EPOLLET(),
                                    UInt64(fd)) == 0 else {
                close(fd)
                server.releaseConnectionSlot()
                continue
            }
            register(c)
            // The request often arrives with the connection: read it now rather than after another wait.
            c.handle(events: LATTICE_EPOLLIN())
        }
    }

    private func register(_ c: Connection) {
        let i = Int(c.fd)
        if i >= connections.count { connections.append(contentsOf: repeatElement(nil, count: i - connections.count + 64)) }
        connections[i] = c
        connectionCount += 1
    }

    private func connection(fd: Int32) -> Connection? {
        let i = Int(fd)
        return i >= 0 && i < connections.count ? connections[i] : nil
    }

    // MARK: Other components' descriptors and timer (loop thread only)

    /// Watches `fd` (level-triggered) for `watcher`; replaces an earlier interest in the same fd.
    func watch(fd: Int32, readable: Bool, writable: Bool, watcher: any LoopWatcher) {
        var interest: UInt32 = 0
        if readable { interest |= LATTICE_EPOLLIN() }
        if writable { interest |= LATTICE_EPOLLOUT() }
        let tag = Self.watchTagBit | UInt64(UInt32(bitPattern: fd))
        let known = watchers[fd]
        if let known, known.interest == interest, known.watcher === watcher { return }   // nothing changes
        if lattice_epoll_ctl(epfd, known != nil ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, interest, tag) != 0 {
            // The fd was closed and reused behind our back, or never added: try the other operation.
            _ = lattice_epoll_ctl(epfd, known != nil ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, fd, interest, tag)
        }
        watchers[fd] = (watcher, interest)
    }

    func unwatch(fd: Int32) {
        guard watchers.removeValue(forKey: fd) != nil else { return }
        _ = lattice_epoll_ctl(epfd, EPOLL_CTL_DEL, fd, 0, 0)
    }

    /// One timer for another component: `fire` runs on the loop at `deadline` (monotonic ns); nil
    /// cancels it.
    func setAuxiliaryTimer(deadline: UInt64?, fire: @escaping () -> Void) {
        auxiliaryDeadline = deadline ?? .max
        auxiliaryTimer = fire
    }

    /// Called by a connection as it closes its descriptor.
    func unregister(_ c: Connection) {
        let i = Int(c.fd)
        if i < connections.count, connections[i] === c {
            connections[i] = nil
            connectionCount -= 1
            server.releaseConnectionSlot()
        }
    }

    /// Deadlines: header read, body read, idle keep-alive, stalled writes; and the end of a drain.
    private func sweep() {
        if acceptRetryPending {
            acceptRetryPending = false
            acceptBatch()
        }
        for c in connections { c?.checkDeadline(now: now) }
        clientTransport?.sweep(now: now)
        if draining && (connectionCount == 0 || now >= forceCloseAt) {
            for c in connections { c?.close() }
            running = false
        }
    }

    // MARK: Shutdown

    /// Stops accepting, closes idle connections, lets busy ones finish their current response, and
    /// force-closes what is left after `grace` nanoseconds. Runs on the loop thread.
    func beginDrain(graceNanoseconds: UInt64) {
        execute { [self] in
            draining = true
            forceCloseAt = MonotonicClock.nanoseconds() + graceNanoseconds
            if listenFd >= 0 { close(listenFd); listenFd = -1 }
            for c in connections { c?.drain() }
            nextSweep = 0
        }
    }

    func join(timeoutSeconds: Double) {
        let deadline = MonotonicClock.nanoseconds() + UInt64(timeoutSeconds * 1e9)
        while !isStopped && MonotonicClock.nanoseconds() < deadline { usleep(2000) }
    }
}

/// A component that has the loop watch descriptors for it.
protocol LoopWatcher: AnyObject {
    func loopEvent(fd: Int32, events: UInt32)
}

/// Caches the `date:` header line, renewed once a second (RFC 9110 §6.6.1 wants it on every response).
final class DateHeaderCache {
    private var second: Int = -1
    private(set) var line: [UInt8] = []

    func current() -> [UInt8] {
        var t = time(nil)
        if t != second {
            second = t
            var tmv = tm()
            gmtime_r(&t, &tmv)
            var buf = [CChar](repeating: 0, count: 64)
            let n = strftime(&buf, 64, "date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tmv)
            line = buf[0..<n].map { UInt8(bitPattern: $0) }
        }
        return line
    }
}

/// Why the server could not start.
public enum HTTPServerStartError: Error, CustomStringConvertible {
    case system(String, Int32)
    case invalidAddress(String)

    public var description: String {
        switch self {
        case .system(let call, let e): return "\(call) failed: \(String(cString: strerror(e)))"
        case .invalidAddress(let a): return "invalid listen address \(a)"
        }
    }
}
