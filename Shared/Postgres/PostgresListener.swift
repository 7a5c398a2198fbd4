import CLibPQ
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A `NOTIFY` received by a `PostgresListener`.
public struct PostgresNotification: Sendable, Equatable {
    public let channel: String
    public let payload: String
    /// The server process that sent it.
    public let processID: Int32
}

/// LISTEN on a dedicated connection served by its own thread.
///
/// Notifications are a wake-up hint, not a queue: those sent while the listener is disconnected
/// (e.g. during a server restart) are lost. After every (re)connection the listener re-issues
/// LISTEN for all channels and then calls `onConnect`, so a consumer can poll once for anything it
/// missed. Callbacks run on the listener thread and must return quickly.
///
/// Thread-safety: `state` (an NSCondition) guards the channel sets and flags; the PGconn is used only
/// by the listener thread.
public final class PostgresListener: @unchecked Sendable {
    public let configuration: PostgresConfiguration
    private let onNotification: @Sendable (PostgresNotification) -> Void
    private let onConnect: (@Sendable () -> Void)?
    private let state = NSCondition()
    private var desired: Set<String> = []
    private var active: Set<String> = []
    private var connected = false
    private var running = false
    private var stopping = false
    private var wakeFDs: [Int32] = [-1, -1]
    private var reconnects = 0

    /// Longest pause between reconnection attempts.
    public var maxReconnectDelay: TimeInterval = 2
    /// An idle session is proven with a round trip this often.
    public var healthCheckInterval: TimeInterval = 15

    public init(configuration: PostgresConfiguration,
                onConnect: (@Sendable () -> Void)? = nil,
                onNotification: @escaping @Sendable (PostgresNotification) -> Void) {
        self.configuration = configuration
        self.onConnect = onConnect
        self.onNotification = onNotification
    }

    deinit {
        for fd in wakeFDs where fd >= 0 { Glibc.close(fd) }
    }

    /// Starts the listener thread (connecting in the background). Calling it twice does nothing.
    public func start() throws(PostgresError) {
        state.lock()
        defer { state.unlock() }
        guard !running else { return }
        if wakeFDs[0] < 0 {
            var fds: [Int32] = [-1, -1]
            guard pipe(&fds) == 0 else { throw .invalidState("pipe() failed (errno \(errno))") }
            for fd in fds {
                _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
                _ = fcntl(fd, F_SETFD, FD_CLOEXEC)  // never leak into processes we start
            }
            wakeFDs = fds
        }
        running = true
        stopping = false
        let thread = Thread { [self] in self.run() }
        thread.name = "postgres-listener"
        thread.start()
    }

    /// Stops the thread and closes the connection; waits up to `timeout` for the thread to finish.
    public func stop(timeout: TimeInterval = 5) {
        state.lock()
        stopping = true
        state.unlock()
        wake()
        state.lock()
        let deadline = Date().addingTimeInterval(timeout)
        while running, state.wait(until: deadline) {}
        state.unlock()
    }

    /// Adds a channel and waits up to `timeout` until the LISTEN is active on the server.
    /// Returns false if it is not active yet (e.g. the server is down); it will be issued on reconnect.
    @discardableResult
    public func listen(_ channel: String, timeout: TimeInterval = 5) throws(PostgresError) -> Bool {
        guard PostgresIdentifier.isValid(channel) else { throw .invalidIdentifier(channel) }
        state.lock()
        desired.insert(channel)
        state.unlock()
        wake()
        state.lock()
        defer { state.unlock() }
        let deadline = Date().addingTimeInterval(timeout)
        while !active.contains(channel) {
            if !state.wait(until: deadline) { break }
        }
        return active.contains(channel)
    }

    /// Removes a channel (UNLISTEN is issued by the listener thread).
    public func unlisten(_ channel: String) {
        state.lock()
        desired.remove(channel)
        state.unlock()
        wake()
    }

    /// True while the dedicated connection is up.
    public var isConnected: Bool {
        state.lock()
        defer { state.unlock() }
        return connected
    }

    /// How many times the connection was re-established after the first one.
    public var reconnectCount: Int {
        state.lock()
        defer { state.unlock() }
        return reconnects
    }

    /// Sends a notification via `SELECT pg_notify($1, $2)` (inside the caller's transaction if one is
    /// open: it is delivered on COMMIT).
    public static func notify(_ channel: String, payload: String = "", on connection: PostgresConnection) throws(PostgresError) {
        _ = try connection.query("SELECT pg_notify($1, $2)", channel, payload)
    }

    // MARK: Listener thread

    private func wake() {
        state.lock()
        let fd = wakeFDs[1]
        state.unlock()
        guard fd >= 0 else { return }
        var byte: UInt8 = 1
        _ = write(fd, &byte, 1)  // non-blocking: a full pipe already means "wake up"
    }

    private func drainWakePipe() {
        var buffer = [UInt8](repeating: 0, count: 64)
        while read(wakeFDs[0], &buffer, buffer.count) > 0 {}
    }

    private var shouldStop: Bool {
        state.lock()
        defer { state.unlock() }
        return stopping
    }

    private func setDisconnected() {
        state.lock()
        connected = false
        active.removeAll()
        state.broadcast()
        state.unlock()
    }

    private func run() {
        var connection: PostgresConnection?
        var delay = 0.05
        var everConnected = false
        var lastActivity = Date()
        while !shouldStop {
            if connection == nil || connection!.isBroken {
                connection?.close()
                connection = nil
                setDisconnected()
                do {
                    let fresh = try PostgresConnection.connect(configuration)
                    connection = fresh
                    state.lock()
                    connected = true
                    if everConnected { reconnects += 1 }
                    state.unlock()
                    everConnected = true
                    delay = 0.05
                    try synchronizeChannels(fresh)
                    lastActivity = Date()
                    onConnect?()
                } catch {
                    connection?.close()
                    connection = nil
                    setDisconnected()
                    sleepInterruptibly(delay)
                    delay = min(delay * 2, maxReconnectDelay)
                    continue
                }
            }
            guard let live = connection, let handle = live.handle else { continue }
            do {
                try synchronizeChannels(live)
            } catch {
                live.close()
                continue
            }
            deliver(handle)
            let fd = PQsocket(handle)
            var fds = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: wakeFDs[0], events: Int16(POLLIN), revents: 0)]
            let ready = poll(&fds, 2, 1000)
            if ready < 0 {
                if errno != EINTR { sleepInterruptibly(0.1) }
                continue
            }
            if fds[1].revents != 0 { drainWakePipe() }
            if fds[0].revents != 0 {
                lastActivity = Date()
                if PQconsumeInput(handle) == 0 || PQstatus(handle) != CONNECTION_OK {
                    live.close()
                    continue
                }
                deliver(handle)
            } else if Date().timeIntervalSince(lastActivity) > healthCheckInterval {
                lastActivity = Date()
                do { try live.ping() } catch { live.close() }
                deliver(handle)
            }
        }
        connection?.close()
        setDisconnected()
        state.lock()
        running = false
        state.broadcast()
        state.unlock()
    }

    /// Issues LISTEN/UNLISTEN so the server matches `desired`.
    private func synchronizeChannels(_ connection: PostgresConnection) throws(PostgresError) {
        state.lock()
        let toListen = desired.subtracting(active)
        let toUnlisten = active.subtracting(desired)
        state.unlock()
        for channel in toUnlisten {
            try connection.execute("UNLISTEN " + PostgresIdentifier.quoted(channel))
            state.lock()
            active.remove(channel)
            state.unlock()
        }
        for channel in toListen {
            try connection.execute("LISTEN " + PostgresIdentifier.quoted(channel))
            state.lock()
            active.insert(channel)
            state.broadcast()
            state.unlock()
        }
    }

    private func deliver(_ handle: OpaquePointer) {
        while let raw = PQnotifies(handle) {
            let n = raw.pointee
            let notification = PostgresNotification(channel: n.relname.map { String(cString: $0) } ?? "",
                                                    payload: n.extra.map { String(cString: $0) } ?? "",
                                                    processID: n.be_pid)
            PQfreemem(raw)
            onNotification(notification)
        }
    }

    /// Sleeps up to `seconds`, returning early when woken (stop, new channel).
    private func sleepInterruptibly(_ seconds: TimeInterval) {
        var fds = [pollfd(fd: wakeFDs[0], events: Int16(POLLIN), revents: 0)]
        if poll(&fds, 1, Int32(seconds * 1000)) > 0 { drainWakePipe() }
    }
}

extension PostgresPool {
    /// Sends a notification on a pooled connection (`SELECT pg_notify($1, $2)`).
    public func notify(_ channel: String, payload: String = "") throws {
        try withConnection { connection in try PostgresListener.notify(channel, payload: payload, on: connection) }
    }
}
