#ifndef LATTICE_CLINUX_H
#define LATTICE_CLINUX_H
// Linux APIs that Glibc's Swift module does not expose (epoll, eventfd) or that Swift cannot call
// cleanly (accept4's transparent-union sockaddr argument). Thin wrappers only.
#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/epoll.h>

int lattice_epoll_create(void);
int lattice_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data);
/// Waits for events; fills parallel arrays so Swift need not know epoll_event's packed layout.
int lattice_epoll_wait(int epfd, uint32_t *events, uint64_t *data, int max, int timeout_ms);
int lattice_eventfd(void);
int lattice_accept(int fd);
int lattice_errno(void);
/// Accepts one connection (non-blocking, close-on-exec, TCP_NODELAY) and writes the peer's address as
/// text into `addr` (at least 46 bytes). Returns the fd or -1 with errno set.
int lattice_accept_peer(int fd, char *addr, size_t addrlen);
/// Creates a non-blocking listening TCP socket on host:port (IPv4 or IPv6 literal). With `reuseport`
/// several sockets share one port and the kernel spreads connections over them. The bound port is
/// written to `bound_port` (useful with port 0). Returns the fd or -errno.
int lattice_listen(const char *host, int port, int backlog, int reuseport, int *bound_port);
/// 0 when host:port can be bound, else -errno (-EADDRINUSE when another socket listens there, even one
/// with SO_REUSEPORT: the kernel would otherwise let a second process share that port's connections).
int lattice_port_unclaimed(const char *host, int port);
/// send(2) that never raises SIGPIPE.
ssize_t lattice_send(int fd, const void *buf, size_t len);
/// Starts a non-blocking TCP connection to an IPv4 or IPv6 literal (TCP_NODELAY, close-on-exec).
/// Returns the fd (`*in_progress` set when the connection completes later: wait for writability, then
/// read `lattice_socket_error`), or -errno; -EINVAL for a host that is not a literal.
int lattice_connect_tcp(const char *host, int port, int *in_progress);
/// The pending error of a socket (SO_ERROR): 0 once a non-blocking connect has succeeded.
int lattice_socket_error(int fd);
/// Resolves `host` to the numeric text of its first IPv4 address, else its first IPv6 one (blocking:
/// call off event loops).
/// Returns 0, or getaddrinfo's error code.
int lattice_resolve_host(const char *host, char *out, size_t outlen);
void lattice_ignore_sigpipe(void);
/// Marks the calling thread as an event-loop thread (a thread-local flag), and reads the mark.
void lattice_set_on_event_loop(int on);
int lattice_on_event_loop(void);
/// The event loop object that owns the calling thread (an opaque pointer), or NULL.
void lattice_set_current_loop(void *loop);
void *lattice_current_loop(void);

static inline uint32_t LATTICE_EPOLLIN(void) { return EPOLLIN; }
static inline uint32_t LATTICE_EPOLLOUT(void) { return EPOLLOUT; }
static inline uint32_t LATTICE_EPOLLET(void) { return EPOLLET; }
static inline uint32_t LATTICE_EPOLLERR(void) { return EPOLLERR; }
static inline uint32_t LATTICE_EPOLLHUP(void) { return EPOLLHUP; }
static inline uint32_t LATTICE_EPOLLRDHUP(void) { return EPOLLRDHUP; }
#endif
