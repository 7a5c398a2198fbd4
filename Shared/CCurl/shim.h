#ifndef LATTICE_CCURL_SHIM_H
#define LATTICE_CCURL_SHIM_H
// curl_easy_setopt and curl_easy_getinfo are variadic, which Swift cannot call. These typed
// wrappers are the only way Swift code reaches them.
#include <curl/curl.h>

typedef size_t (*lattice_curl_write_callback)(char *ptr, size_t size, size_t nmemb, void *userdata);
typedef size_t (*lattice_curl_read_callback)(char *buffer, size_t size, size_t nitems, void *userdata);

static inline CURLcode lattice_curl_setopt_long(CURL *h, CURLoption o, long v) {
    return curl_easy_setopt(h, o, v);
}
static inline CURLcode lattice_curl_setopt_off_t(CURL *h, CURLoption o, curl_off_t v) {
    return curl_easy_setopt(h, o, v);
}
static inline CURLcode lattice_curl_setopt_string(CURL *h, CURLoption o, const char *v) {
    return curl_easy_setopt(h, o, v);
}
static inline CURLcode lattice_curl_setopt_pointer(CURL *h, CURLoption o, void *v) {
    return curl_easy_setopt(h, o, v);
}
static inline CURLcode lattice_curl_setopt_slist(CURL *h, CURLoption o, struct curl_slist *v) {
    return curl_easy_setopt(h, o, v);
}
static inline CURLcode lattice_curl_setopt_write_callback(CURL *h, CURLoption o, lattice_curl_write_callback cb) {
    return curl_easy_setopt(h, o, cb);
}
static inline CURLcode lattice_curl_setopt_read_callback(CURL *h, CURLoption o, lattice_curl_read_callback cb) {
    return curl_easy_setopt(h, o, cb);
}
static inline CURLcode lattice_curl_getinfo_long(CURL *h, CURLINFO i, long *out) {
    return curl_easy_getinfo(h, i, out);
}
static inline CURLcode lattice_curl_getinfo_double(CURL *h, CURLINFO i, double *out) {
    return curl_easy_getinfo(h, i, out);
}
static inline CURLcode lattice_curl_getinfo_string(CURL *h, CURLINFO i, char **out) {
    return curl_easy_getinfo(h, i, out);
}
static inline CURLcode lattice_curl_getinfo_off_t(CURL *h, CURLINFO i, curl_off_t *out) {
    return curl_easy_getinfo(h, i, out);
}
/// Restricts a handle to http and https (and no redirect to anything else), with the string option
/// where libcurl has it (7.85+) and the older bitmask otherwise.
static inline CURLcode lattice_curl_allow_http_only(CURL *h) {
#if LIBCURL_VERSION_NUM >= 0x075500
    CURLcode rc = curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    if (rc == CURLE_OK) rc = curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    return rc;
#else
    CURLcode rc = curl_easy_setopt(h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
    if (rc == CURLE_OK) rc = curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
    return rc;
#endif
}
static inline CURLSHcode lattice_curl_share_setopt_long(CURLSH *s, CURLSHoption o, long v) {
    return curl_share_setopt(s, o, v);
}

// The multi interface driven by our own event loop (curl_multi_socket_action).
typedef int (*lattice_curl_socket_callback)(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp);
typedef int (*lattice_curl_timer_callback)(CURLM *multi, long timeout_ms, void *userp);

static inline CURLMcode lattice_curl_multi_setopt_socket_callback(CURLM *m, lattice_curl_socket_callback cb, void *userp) {
    CURLMcode c = curl_multi_setopt(m, CURLMOPT_SOCKETFUNCTION, cb);
    if (c != CURLM_OK) return c;
    return curl_multi_setopt(m, CURLMOPT_SOCKETDATA, userp);
}
static inline CURLMcode lattice_curl_multi_setopt_timer_callback(CURLM *m, lattice_curl_timer_callback cb, void *userp) {
    CURLMcode c = curl_multi_setopt(m, CURLMOPT_TIMERFUNCTION, cb);
    if (c != CURLM_OK) return c;
    return curl_multi_setopt(m, CURLMOPT_TIMERDATA, userp);
}
static inline CURLMcode lattice_curl_multi_setopt_long(CURLM *m, CURLMoption o, long v) {
    return curl_multi_setopt(m, o, v);
}
static inline CURLMcode lattice_curl_multi_socket_action(CURLM *m, curl_socket_t s, int ev_bitmask, int *running) {
    return curl_multi_socket_action(m, s, ev_bitmask, running);
}
static inline int LATTICE_CURL_POLL_IN(void) { return CURL_POLL_IN; }
static inline int LATTICE_CURL_POLL_OUT(void) { return CURL_POLL_OUT; }
static inline int LATTICE_CURL_POLL_INOUT(void) { return CURL_POLL_INOUT; }
static inline int LATTICE_CURL_POLL_REMOVE(void) { return CURL_POLL_REMOVE; }
static inline int LATTICE_CURL_CSELECT_IN(void) { return CURL_CSELECT_IN; }
static inline int LATTICE_CURL_CSELECT_OUT(void) { return CURL_CSELECT_OUT; }
static inline int LATTICE_CURL_CSELECT_ERR(void) { return CURL_CSELECT_ERR; }
static inline curl_socket_t LATTICE_CURL_SOCKET_TIMEOUT(void) { return CURL_SOCKET_TIMEOUT; }
#endif
