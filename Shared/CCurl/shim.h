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
#endif
