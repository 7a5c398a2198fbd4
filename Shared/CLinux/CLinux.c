// Implementation of CLinux.h. _GNU_SOURCE is defined here only (for accept4), never in the public
// header: a macro there would make glibc types differ between Clang modules.
#define _GNU_SOURCE 1
#include "CLinux.h"
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <signal.h>

int lattice_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }
int lattice_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data) {
    struct epoll_event ev;
    ev.events = events;
    ev.data.u64 = data;
    return epoll_ctl(epfd, op, fd, &ev);
}
/// Waits for events; fills parallel arrays so Swift need not know epoll_event's packed layout.
int lattice_epoll_wait(int epfd, uint32_t *events, uint64_t *data, int max, int timeout_ms) {
    struct epoll_event evs[256];
    if (max > 256) max = 256;
    int n = epoll_wait(epfd, evs, max, timeout_ms);
    for (int i = 0; i < n; i++) { events[i] = evs[i].events; data[i] = evs[i].data.u64; }
    return n;
}
int lattice_eventfd(void) { return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }
int lattice_accept(int fd) { return accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC); }
int lattice_errno(void) { return errno; }

#include <arpa/inet.h>
#include <netdb.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>

/// Accepts one connection (non-blocking, close-on-exec, TCP_NODELAY) and writes the peer's address as
/// text into `addr` (at least INET6_ADDRSTRLEN bytes). Returns the fd or -1 with errno set.
int lattice_accept_peer(int fd, char *addr, size_t addrlen) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    int c = accept4(fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (c < 0) return -1;
    int one = 1;
    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    addr[0] = 0;
    if (ss.ss_family == AF_INET) inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, addr, (socklen_t)addrlen);
    else if (ss.ss_family == AF_INET6) inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, addr, (socklen_t)addrlen);
    return c;
}

/// Creates a non-blocking listening TCP socket on host:port (IPv4 or IPv6 literal). With `reuseport`
/// several sockets share one port and the kernel spreads connections over them. The bound port is
/// written to `bound_port` (useful with port 0). Returns the fd or -errno.
/// Fills `ss` with an IPv4 or IPv6 literal and a port; its length, or 0 when `host` is neither.
static socklen_t parse_address(const char *host, int port, struct sockaddr_storage *ss) {
    memset(ss, 0, sizeof(*ss));
    struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET; v4->sin_port = htons((uint16_t)port); return sizeof(*v4);
    }
    if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6; v6->sin6_port = htons((uint16_t)port); return sizeof(*v6);
    }
    return 0;
}

int lattice_port_unclaimed(const char *host, int port) {
    struct sockaddr_storage ss;
    socklen_t len = parse_address(host, port, &ss);
    if (len == 0) return -EINVAL;
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    int one = 1;
    // SO_REUSEADDR only passes over sockets in TIME_WAIT; a listener (with or without SO_REUSEPORT) still fails the bind.
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    int result = bind(fd, (struct sockaddr *)&ss, len) < 0 ? -errno : 0;
    close(fd);
    return result;
}

int lattice_listen(const char *host, int port, int backlog, int reuseport, int *bound_port) {
    struct sockaddr_storage ss;
    socklen_t len = parse_address(host, port, &ss);
    if (len == 0) return -EINVAL;
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (reuseport) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, len) < 0) { int e = errno; close(fd); return -e; }
    if (listen(fd, backlog) < 0) { int e = errno; close(fd); return -e; }
    struct sockaddr_storage bound;
    socklen_t blen = sizeof(bound);
    if (getsockname(fd, (struct sockaddr *)&bound, &blen) == 0) {
        *bound_port = bound.ss_family == AF_INET ? ntohs(((struct sockaddr_in *)&bound)->sin_port)
                                                 : ntohs(((struct sockaddr_in6 *)&bound)->sin6_port);
    }
    return fd;
}

/// send(2) that never raises SIGPIPE.
ssize_t lattice_send(int fd, const void *buf, size_t len) { return send(fd, buf, len, MSG_NOSIGNAL); }

int lattice_connect_tcp(const char *host, int port, int *in_progress) {
    struct sockaddr_storage ss;
    socklen_t len = parse_address(host, port, &ss);
    if (len == 0) return -EINVAL;
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    *in_progress = 0;
    if (connect(fd, (struct sockaddr *)&ss, len) != 0) {
        if (errno != EINPROGRESS) { int e = errno; close(fd); return -e; }
        *in_progress = 1;
    }
    return fd;
}

int lattice_socket_error(int fd) {
    int error = 0;
    socklen_t len = sizeof(error);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) != 0) return errno;
    return error;
}

int lattice_resolve_host(const char *host, char *out, size_t outlen) {
    struct addrinfo hints, *found = 0;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(host, 0, &hints, &found);
    if (rc != 0) return rc;
    out[0] = 0;
    // IPv4 first: our services listen on 0.0.0.0, and "localhost" lists ::1 before 127.0.0.1.
    for (struct addrinfo *a = found; a && !out[0]; a = a->ai_next) {
        if (a->ai_family == AF_INET) inet_ntop(AF_INET, &((struct sockaddr_in *)a->ai_addr)->sin_addr, out, (socklen_t)outlen);
    }
    for (struct addrinfo *a = found; a && !out[0]; a = a->ai_next) {
        if (a->ai_family == AF_INET6) inet_ntop(AF_INET6, &((struct sockaddr_in6 *)a->ai_addr)->sin6_addr, out, (socklen_t)outlen);
    }
    freeaddrinfo(found);
    return out[0] ? 0 : EAI_NONAME;
}

void lattice_ignore_sigpipe(void) { signal(SIGPIPE, SIG_IGN); }


static __thread int lattice_event_loop_flag = 0;
void lattice_set_on_event_loop(int on) { lattice_event_loop_flag = on; }
int lattice_on_event_loop(void) { return lattice_event_loop_flag; }

static __thread void *lattice_current_loop_ptr = 0;
void lattice_set_current_loop(void *loop) { lattice_current_loop_ptr = loop; }
void *lattice_current_loop(void) { return lattice_current_loop_ptr; }
