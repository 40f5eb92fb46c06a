/*
 * sandnet.h: the sandnet:net imports for C guests, as plain C.
 *
 * A thin layer over what `wit-bindgen c wit --world script` generates
 * (script.h, not included here): NUL-terminated strings in, malloc'd strings
 * and buffers out, one error struct for every call, `bool` for success.
 *
 *     #include "sandnet.h"
 *
 *     int main(void) {
 *         sandnet_response resp;
 *         sandnet_error err;
 *         if (!sandnet_http_get("https://api.example.com/v1/items", &resp, &err)) {
 *             sandnet_error_print(&err, "demo", stderr); // "demo: denied: ..." + hint line
 *             sandnet_error_free(&err);
 *             return 1;
 *         }
 *         printf("%u %.*s\n", resp.status, (int)resp.body_len, (const char *)resp.body);
 *         sandnet_response_free(&resp);
 *         return 0;
 *     }
 *
 * Build (see scripts/build-guests.sh): generate the bindings for world
 * `script` with wit-bindgen 0.63, compile main.c, sandnet.c and script.c with
 * clang --target=wasm32-wasi -mexec-model=reactor, link
 * script_component_type.o, then `wasm-tools component new` with the
 * wasi_snapshot_preview1 reactor adapter. sandnet.c exports `wasi:cli/run`
 * and calls main(argc, argv) from it.
 *
 * Exit status: main's return value is the exact exit status, and so is
 * sandnet_exit(n). The C library's exit(n) goes through the preview1 adapter,
 * which reports every nonzero status as 1. Output is flushed when main returns.
 */
#ifndef SANDNET_H
#define SANDNET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Errors                                                                   */

/** The cases of the WIT `net-error`. */
typedef enum sandnet_error_kind {
    SANDNET_ERR_DENIED,           /**< the policy does not grant the target */
    SANDNET_ERR_DNS,              /**< the host could not resolve the name */
    SANDNET_ERR_CONNECT,          /**< refused, unreachable, reset */
    SANDNET_ERR_TLS,              /**< certificate, name or handshake failure */
    SANDNET_ERR_TIMEOUT,          /**< a deadline expired (reason names it) */
    SANDNET_ERR_CLOSED,           /**< the peer or the host closed the resource */
    SANDNET_ERR_LIMIT_EXCEEDED,   /**< a named limit was exceeded */
    SANDNET_ERR_PROTOCOL,         /**< the peer violated the protocol */
    SANDNET_ERR_INVALID_ARGUMENT, /**< the guest passed something unusable */
} sandnet_error_kind;

/** Why a call failed. Owns its strings: release with sandnet_error_free. */
typedef struct sandnet_error {
    sandnet_error_kind kind;
    /** The message. For a timeout, the deadline ("connect", "first-byte",
     *  "total", "idle"); for a limit, e.g. "max_body_bytes (10485760)". */
    char *reason;
    /** For a denial, the policy line that would allow the target; NULL when a
     *  deny rule matched, and for every other kind. */
    char *suggestion;
    /** For a denial, the 1-based policy line whose rule decided; 0 if none. */
    uint32_t rule_line;
} sandnet_error;

/** The WIT name of a kind: "denied", "dns", ..., "invalid-argument". */
const char *sandnet_error_kind_name(sandnet_error_kind kind);

/** Prints "PREFIX: KIND: REASON" and, for a denial with a suggestion, a
 *  second line "hint: add to the policy's allow list: LINE". */
void sandnet_error_print(const sandnet_error *err, const char *prefix, FILE *out);

/** Frees the strings of `err` (safe on a zeroed struct). */
void sandnet_error_free(sandnet_error *err);

/* ------------------------------------------------------------------------ */
/* HTTP                                                                     */

/** One header; names are case-insensitive. */
typedef struct sandnet_header {
    const char *name;
    const char *value;
} sandnet_header;

/** Per-request options; 0 leaves a field to the policy or the host default. */
typedef struct sandnet_request_options {
    uint32_t timeout_ms;            /**< whole exchange */
    uint32_t connect_timeout_ms;    /**< TCP + TLS */
    uint32_t first_byte_timeout_ms; /**< request sent -> response head */
    uint32_t max_redirects;         /**< 0: 3xx responses are returned as is */
    uint64_t max_body_bytes;        /**< largest body buffered */
} sandnet_request_options;

/** A request. Zero-initialise it, then set `url` (and what else you need). */
typedef struct sandnet_request {
    const char *method; /**< any method name; NULL means "GET" */
    const char *url;    /**< absolute http:// or https:// URL */
    const sandnet_header *headers;
    size_t header_count;
    const void *body;   /**< NULL sends no body */
    size_t body_len;
    sandnet_request_options options;
} sandnet_request;

/** A complete response (any status). Release with sandnet_response_free. */
typedef struct sandnet_response {
    uint16_t status;
    char *reason;
    char *url;          /**< the URL that answered (differs after redirects) */
    sandnet_header *headers;
    size_t header_count;
    uint8_t *body;      /**< body_len bytes, plus a NUL so text can be printed */
    size_t body_len;
} sandnet_response;

/** Sends `req`, fills `resp` on any HTTP response and returns true; fills
 *  `err` and returns false when no response arrived (e.g. denied). */
bool sandnet_http_fetch(const sandnet_request *req, sandnet_response *resp, sandnet_error *err);

/** sandnet_http_fetch of a plain GET. */
bool sandnet_http_get(const char *url, sandnet_response *resp, sandnet_error *err);

/** The first value of header `name` (case-insensitive), or NULL. */
const char *sandnet_response_header(const sandnet_response *resp, const char *name);

/** Frees what sandnet_http_fetch put in `resp`. */
void sandnet_response_free(sandnet_response *resp);

/* ------------------------------------------------------------------------ */
/* TCP                                                                      */

/** A connected TCP (or host-terminated TLS) stream. */
typedef struct sandnet_tcp_stream sandnet_tcp_stream;

/** Connects to "tcp://host:port" or "tls://host:port" through the policy.
 *  Returns NULL and fills `err` on failure. */
sandnet_tcp_stream *sandnet_tcp_connect(const char *url, sandnet_error *err);

/** Reads up to `cap` bytes into `buf`, waiting for at least one; sets `*len`
 *  (0 at end of stream). */
bool sandnet_tcp_read(sandnet_tcp_stream *s, void *buf, size_t cap, size_t *len, sandnet_error *err);

/** Writes all `len` bytes of `data`. */
bool sandnet_tcp_write(sandnet_tcp_stream *s, const void *data, size_t len, sandnet_error *err);

/** Closes the write half: the peer reads end of stream, reading goes on. */
bool sandnet_tcp_shutdown(sandnet_tcp_stream *s, sandnet_error *err);

/** The peer's address as "IP:PORT" (malloc'd). */
char *sandnet_tcp_peer_address(sandnet_tcp_stream *s);

/** Closes the connection and frees `s` (NULL is fine). */
void sandnet_tcp_close(sandnet_tcp_stream *s);

/* ------------------------------------------------------------------------ */
/* Waiting on several resources (wasi:io/poll)                              */

/** Something to wait on; from a *_subscribe call. Drop with sandnet_pollable_drop. */
typedef struct sandnet_pollable {
    int32_t handle;
} sandnet_pollable;

/** Ready when sandnet_tcp_read would not wait. */
sandnet_pollable sandnet_tcp_subscribe(sandnet_tcp_stream *s);

/** Ready `ms` milliseconds from now (a timeout to wait on alongside others). */
sandnet_pollable sandnet_timer(uint64_t ms);

/** Blocks until at least one of `n` pollables is ready; writes the indices of
 *  the ready ones to `ready` (room for `n`) and returns how many. */
size_t sandnet_poll(const sandnet_pollable *pollables, size_t n, size_t *ready);

/** Releases a pollable. */
void sandnet_pollable_drop(sandnet_pollable p);

/* ------------------------------------------------------------------------ */
/* Process                                                                  */

/** Flushes stdout and stderr, then ends the run with exactly `code`. */
_Noreturn void sandnet_exit(uint8_t code);

#ifdef __cplusplus
}
#endif

#endif /* SANDNET_H */
