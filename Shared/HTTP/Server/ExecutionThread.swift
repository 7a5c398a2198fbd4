import CLinux

/// Where the current code runs.
public enum ExecutionThread {
    /// True on an HTTP event-loop thread, where nothing may block.
    public static var isEventLoop: Bool { lattice_on_event_loop() != 0 }
}
