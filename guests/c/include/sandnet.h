/*
 * sandnet.h: the sandnet:net imports for C guests, as plain C.
 *
 * A thin layer over what `wit-bindgen c wit --world script` generates
 * (script.h, not included here): NUL-terminated strings in, malloc'd strings
 * and buffers out, one error struct for every call, `bool` for success.
 * Sections by concept: errors, HTTP (fetch, streamed download, streamed
 * upload with progress, multipart forms), waiting (pollables, timers),
 * WebSocket (client and listener), Server-Sent Events, TCP (client and
 * listener), UDP, resumable upload (tus 1.0).
 *
 * Memory: arguments are borrowed for the call only; the library never keeps
 * a caller's pointer. Every resource (`sandnet_*` handle) returned is owned
 * by the caller and released by the one function its comment names
 * (`_free` / `_close`, all NULL-safe); every `char *` returned is malloc'd
 * and freed with free(); every struct a call fills (`sandnet_error`,
 * `sandnet_response`, `sandnet_ws_message`, `sandnet_sse_event`,
 * `sandnet_datagram`) is released with its `_free` function. A function that
 * "frees `p` (always)" consumes its argument whether it succeeds or not.
 * Drop a resource's pollables before freeing the resource.
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
/* Waiting on several resources (wasi:io/poll)                              */

/** Something to wait on, from a *_subscribe call or sandnet_timer; the
 *  caller owns it: release with sandnet_pollable_drop before freeing the
 *  resource it watches. */
typedef struct sandnet_pollable {
    int32_t handle;
} sandnet_pollable;

/** Ready `ms` milliseconds from now (a timeout to wait on alongside others). */
sandnet_pollable sandnet_timer(uint64_t ms);

/** Blocks until at least one of `n` pollables is ready; writes the indices of
 *  the ready ones to `ready` (room for `n`) and returns how many. */
size_t sandnet_poll(const sandnet_pollable *pollables, size_t n, size_t *ready);

/** Releases a pollable. */
void sandnet_pollable_drop(sandnet_pollable p);

/** Sleeps `ms` milliseconds (a timer waited on alone). */
void sandnet_sleep_ms(uint64_t ms);

/* ------------------------------------------------------------------------ */
/* HTTP: streamed download (send -> pending -> incoming)                    */

/** A request in flight whose response head may not have arrived yet. */
typedef struct sandnet_http_pending sandnet_http_pending;

/** A response whose body is read in chunks. */
typedef struct sandnet_http_incoming sandnet_http_incoming;

/** Sends `req` (its body, if any, in one piece) and returns at once; the
 *  caller owns the result (sandnet_http_pending_wait or _free it). Several
 *  may be in flight together: wait on their pollables with sandnet_poll.
 *  NULL with `err` filled when the request could not start (e.g. denied). */
sandnet_http_pending *sandnet_http_send(const sandnet_request *req, sandnet_error *err);

/** Ready when sandnet_http_pending_try would return true. */
sandnet_pollable sandnet_http_pending_subscribe(sandnet_http_pending *p);

/** Whether the outcome has arrived, without waiting. When it has (true):
 *  `*out` is the response (caller frees it) or NULL with `err` filled; `p`
 *  is spent and may only be freed. False while the request is still waiting. */
bool sandnet_http_pending_try(sandnet_http_pending *p, sandnet_http_incoming **out, sandnet_error *err);

/** Waits for the response head, then frees `p` (always). NULL with `err`
 *  filled on failure (e.g. timeout). */
sandnet_http_incoming *sandnet_http_pending_wait(sandnet_http_pending *p, sandnet_error *err);

/** Cancels the request if still waiting and frees `p` (NULL is fine). */
void sandnet_http_pending_free(sandnet_http_pending *p);

/** Status code, reason phrase and URL that answered; the strings are owned
 *  by `in` (valid until sandnet_http_incoming_free). */
uint16_t sandnet_http_incoming_status(const sandnet_http_incoming *in);
const char *sandnet_http_incoming_reason(const sandnet_http_incoming *in);
const char *sandnet_http_incoming_url(const sandnet_http_incoming *in);

/** The first value of header `name` (case-insensitive), owned by `in`, or NULL. */
const char *sandnet_http_incoming_header(const sandnet_http_incoming *in, const char *name);

/** Reads up to `cap` body bytes (at most 1 MiB) into the caller's `buf`,
 *  waiting for some; `*len` is 0 once the body has ended. */
bool sandnet_http_incoming_read(sandnet_http_incoming *in, void *buf, size_t cap, size_t *len,
                                sandnet_error *err);

/** Ready when sandnet_http_incoming_read would not wait. */
sandnet_pollable sandnet_http_incoming_subscribe(sandnet_http_incoming *in);

/** Cancels the rest of the body and frees `in` (NULL is fine). */
void sandnet_http_incoming_free(sandnet_http_incoming *in);

/* ------------------------------------------------------------------------ */
/* HTTP: streamed upload with progress                                      */

/** A request whose body the guest writes in chunks. */
typedef struct sandnet_http_upload sandnet_http_upload;

/** sandnet_http_upload_start's `total_bytes` when the size is not known
 *  (the body is then sent chunked). */
#define SANDNET_UNKNOWN_TOTAL UINT64_MAX

/** How much of an upload the connection has taken. */
typedef struct sandnet_progress {
    uint64_t sent;  /**< body bytes handed to the connection so far */
    uint64_t total; /**< the announced total, or SANDNET_UNKNOWN_TOTAL */
} sandnet_progress;

/** Starts `req` (whose `body` must be NULL) with a body the guest streams;
 *  `total_bytes` is sent as content-length. Redirects are never followed.
 *  The caller owns the result (sandnet_http_upload_finish or _free it). */
sandnet_http_upload *sandnet_http_upload_start(const sandnet_request *req, uint64_t total_bytes,
                                               sandnet_error *err);

/** Writes one chunk (copied; at most the announced total overall), waiting
 *  while the connection applies back-pressure. */
bool sandnet_http_upload_write(sandnet_http_upload *up, const void *data, size_t len,
                               sandnet_error *err);

/** Bytes sent so far and the announced total. */
sandnet_progress sandnet_http_upload_progress(sandnet_http_upload *up);

/** Ready when sandnet_http_upload_write would not wait. */
sandnet_pollable sandnet_http_upload_subscribe(sandnet_http_upload *up);

/** Ends the body and frees `up` (always); returns the pending response
 *  (caller owns it), or NULL with `err` filled (e.g. fewer bytes than announced). */
sandnet_http_pending *sandnet_http_upload_finish(sandnet_http_upload *up, sandnet_error *err);

/** Abandons the upload (the request is cancelled) and frees `up` (NULL is fine). */
void sandnet_http_upload_free(sandnet_http_upload *up);

/* ------------------------------------------------------------------------ */
/* HTTP: multipart/form-data, streamed with progress                        */

/** A multipart/form-data body (RFC 7578) under construction: text fields
 *  and files, sent in one streamed request by sandnet_multipart_send.
 *
 *  Memory: unlike the rest of this header, a file's `data` (add_file) and a
 *  reader's `ctx` (add_file_reader) are NOT copied: they must stay valid and
 *  unchanged until sandnet_multipart_send returns or the form is freed, so a
 *  large file is never held twice. Names, file names, content types and
 *  text values are copied. The form is owned by the caller until
 *  sandnet_multipart_send, which consumes it; otherwise free it with
 *  sandnet_multipart_free.
 *
 *      sandnet_multipart *form = sandnet_multipart_new();
 *      sandnet_multipart_add_text(form, "title", "holiday", &err);
 *      sandnet_multipart_add_file(form, "photo", "a.jpg", "image/jpeg", jpeg, jpeg_len, &err);
 *      sandnet_request req = {.method = "POST", .url = "https://uploads.example.com/form"};
 *      sandnet_http_pending *p = sandnet_multipart_send(form, &req, show_progress, NULL, &err);
 *      sandnet_http_incoming *in = p ? sandnet_http_pending_wait(p, &err) : NULL;
 */
typedef struct sandnet_multipart sandnet_multipart;

/** Reads the next bytes of a file into `buf` (at most `cap`): returns how
 *  many (1..cap), 0 if the file ended, or a negative number on an error. */
typedef ptrdiff_t (*sandnet_read_fn)(void *ctx, void *buf, size_t cap);

/** Called after every chunk sandnet_multipart_send writes. */
typedef void (*sandnet_progress_fn)(void *ctx, sandnet_progress progress);

/** An empty form with a random boundary (128 bits). Never NULL. */
sandnet_multipart *sandnet_multipart_new(void);

/** Adds a text field `name` = `value`. False (invalid-argument) when
 *  `name` or `value` is NULL. */
bool sandnet_multipart_add_text(sandnet_multipart *form, const char *name, const char *value,
                                sandnet_error *err);

/** Adds a file of `len` bytes at `data` (borrowed until the form is sent or
 *  freed). `content_type` NULL means application/octet-stream. */
bool sandnet_multipart_add_file(sandnet_multipart *form, const char *name, const char *filename,
                                const char *content_type, const void *data, size_t len,
                                sandnet_error *err);

/** Adds a file of exactly `size` bytes read by `read(ctx, ...)` while the
 *  form is sent (`ctx` borrowed until then). A reader that ends early, fails
 *  or overfills its buffer cancels the request (invalid-argument). */
bool sandnet_multipart_add_file_reader(sandnet_multipart *form, const char *name,
                                       const char *filename, const char *content_type,
                                       uint64_t size, sandnet_read_fn read, void *ctx,
                                       sandnet_error *err);

/** The body's length in bytes (sent as content-length). */
uint64_t sandnet_multipart_total(const sandnet_multipart *form);

/** The content-type header value, boundary included; owned by `form`. */
const char *sandnet_multipart_content_type(const sandnet_multipart *form);

/** Sends the form as the body of `req` (whose `body` must be NULL; its
 *  content-type header is replaced by the form's) through
 *  sandnet_http_upload_start, calling `on_progress(ctx, ...)` (if not NULL)
 *  after every chunk, and frees `form` (always). Returns the pending
 *  response (caller owns it), or NULL with `err` filled. */
sandnet_http_pending *sandnet_multipart_send(sandnet_multipart *form, const sandnet_request *req,
                                             sandnet_progress_fn on_progress, void *ctx,
                                             sandnet_error *err);

/** Frees a form that was not sent (NULL is fine). */
void sandnet_multipart_free(sandnet_multipart *form);

/* ------------------------------------------------------------------------ */
/* WebSocket                                                                */

/** A WebSocket connection (client or accepted by a listener). */
typedef struct sandnet_ws sandnet_ws;

/** Options for sandnet_ws_connect; zero-initialise, then set what you need.
 *  0 leaves a number to the policy; the caller keeps ownership of every pointer. */
typedef struct sandnet_ws_options {
    const sandnet_header *headers;     /**< extra handshake headers */
    size_t header_count;
    const char *const *subprotocols;   /**< offered, in preference order */
    size_t subprotocol_count;
    uint32_t heartbeat_ms;             /**< ping interval */
    uint32_t connect_timeout_ms;
    uint32_t reconnect_max_attempts;   /**< 0: never reconnect */
    uint32_t reconnect_initial_backoff_ms;
    uint32_t reconnect_max_backoff_ms;
} sandnet_ws_options;

/** Connection states, as the WIT `state`. */
typedef enum sandnet_ws_state {
    SANDNET_WS_CONNECTING,
    SANDNET_WS_OPEN,
    SANDNET_WS_CLOSING,
    SANDNET_WS_CLOSED,
} sandnet_ws_state;

/** What a received message is. */
typedef enum sandnet_ws_message_kind {
    SANDNET_WS_TEXT,   /**< `data` holds UTF-8 text (NUL-terminated too) */
    SANDNET_WS_BINARY, /**< `data` holds the bytes (plus a NUL) */
    SANDNET_WS_CLOSE,  /**< the peer closed: `close_code` and `close_reason` */
} sandnet_ws_message_kind;

/** One message. Owns its buffers: release with sandnet_ws_message_free. */
typedef struct sandnet_ws_message {
    sandnet_ws_message_kind kind;
    uint8_t *data; /**< text or binary payload; NULL for a close */
    size_t len;
    uint16_t close_code;
    char *close_reason; /**< for a close; NULL otherwise */
} sandnet_ws_message;

/** Connects to a ws:// or wss:// URL; `opts` may be NULL. The caller owns
 *  the connection (sandnet_ws_free). NULL with `err` filled on failure. */
sandnet_ws *sandnet_ws_connect(const char *url, const sandnet_ws_options *opts, sandnet_error *err);

/** The subprotocol the server chose (malloc'd, caller frees), or NULL. */
char *sandnet_ws_subprotocol(sandnet_ws *ws);

/** The current state. */
sandnet_ws_state sandnet_ws_state_of(sandnet_ws *ws);

/** Sends a text message (NUL-terminated UTF-8) or binary bytes. A send after
 *  the peer closed fails with SANDNET_ERR_CLOSED; sandnet_ws_receive then
 *  returns the peer's close. */
bool sandnet_ws_send_text(sandnet_ws *ws, const char *text, sandnet_error *err);
bool sandnet_ws_send_binary(sandnet_ws *ws, const void *data, size_t len, sandnet_error *err);

/** Waits for the next message into `msg` (caller frees it). After a close
 *  message further calls fail with SANDNET_ERR_CLOSED. */
bool sandnet_ws_receive(sandnet_ws *ws, sandnet_ws_message *msg, sandnet_error *err);

/** Like sandnet_ws_receive without waiting: `*got` says whether `msg` was filled. */
bool sandnet_ws_try_receive(sandnet_ws *ws, sandnet_ws_message *msg, bool *got, sandnet_error *err);

/** Frees what a receive put in `msg` (safe on a zeroed struct). */
void sandnet_ws_message_free(sandnet_ws_message *msg);

/** Starts the close handshake (code 1000-4999, reason at most 123 bytes);
 *  the peer's answering close arrives through sandnet_ws_receive. */
bool sandnet_ws_close(sandnet_ws *ws, uint16_t code, const char *reason, sandnet_error *err);

/** Ready when sandnet_ws_receive would not wait. */
sandnet_pollable sandnet_ws_subscribe(sandnet_ws *ws);

/** Drops the connection (closing it) and frees `ws` (NULL is fine). */
void sandnet_ws_free(sandnet_ws *ws);

/** A WebSocket server socket (needs a ws-listen://ADDR:PORT grant). */
typedef struct sandnet_ws_listener sandnet_ws_listener;

/** Binds "ws-listen://ADDR:PORT"; the caller owns the listener. */
sandnet_ws_listener *sandnet_ws_listen(const char *address, sandnet_error *err);

/** The bound address as "IP:PORT" (malloc'd, caller frees). */
char *sandnet_ws_listener_address(sandnet_ws_listener *l);

/** Waits for the next client whose handshake succeeded; the caller owns the
 *  connection and, when `peer` is not NULL, `*peer` ("IP:PORT", malloc'd). */
sandnet_ws *sandnet_ws_accept(sandnet_ws_listener *l, char **peer, sandnet_error *err);

/** Ready when sandnet_ws_accept would not wait. */
sandnet_pollable sandnet_ws_listener_subscribe(sandnet_ws_listener *l);

/** Stops listening and frees `l` (NULL is fine). */
void sandnet_ws_listener_free(sandnet_ws_listener *l);

/* ------------------------------------------------------------------------ */
/* Server-Sent Events                                                       */

/** An open event stream (reconnects with Last-Event-ID by itself). */
typedef struct sandnet_sse sandnet_sse;

/** Options for sandnet_sse_open; zero-initialise. 0 keeps a number's default;
 *  the caller keeps ownership of every pointer. */
typedef struct sandnet_sse_options {
    const sandnet_header *headers;    /**< extra request headers */
    size_t header_count;
    const char *const *event_types;   /**< deliver only these types (all when none) */
    size_t event_type_count;
    bool no_reconnect;                /**< true: end at the first drop */
    uint32_t max_reconnects;          /**< consecutive failures before `closed` */
    uint32_t max_redirects;
} sandnet_sse_options;

/** One event. Owns its strings: release with sandnet_sse_event_free. */
typedef struct sandnet_sse_event {
    char *type; /**< the `event` field, or "message" */
    char *data; /**< data lines joined by '\n' */
    char *id;   /**< the last event id seen on the stream, or NULL */
} sandnet_sse_event;

/** Opens an event stream at an http:// or https:// URL (policy: an sse+http
 *  or http rule); `opts` may be NULL. The caller owns the stream. */
sandnet_sse *sandnet_sse_open(const char *url, const sandnet_sse_options *opts, sandnet_error *err);

/** Waits for the next event into `ev` (caller frees it). At the end of the
 *  stream fails with SANDNET_ERR_CLOSED. */
bool sandnet_sse_next(sandnet_sse *s, sandnet_sse_event *ev, sandnet_error *err);

/** Like sandnet_sse_next without waiting: `*got` says whether `ev` was filled. */
bool sandnet_sse_try_next(sandnet_sse *s, sandnet_sse_event *ev, bool *got, sandnet_error *err);

/** Frees the strings of `ev` (safe on a zeroed struct). */
void sandnet_sse_event_free(sandnet_sse_event *ev);

/** Ready when sandnet_sse_next would not wait. */
sandnet_pollable sandnet_sse_subscribe(sandnet_sse *s);

/** Closes the stream and frees `s` (NULL is fine). */
void sandnet_sse_close(sandnet_sse *s);

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

/** Reads through the first `delim_len`-byte delimiter `delim` (included),
 *  at most `max` bytes; `*out` is malloc'd (caller frees; NUL-terminated,
 *  `*len` excludes the NUL). At end of stream: the rest, no delimiter. */
bool sandnet_tcp_read_until(sandnet_tcp_stream *s, const void *delim, size_t delim_len, size_t max,
                            uint8_t **out, size_t *len, sandnet_error *err);

/** The peer's and the local address as "IP:PORT" (malloc'd, caller frees). */
char *sandnet_tcp_peer_address(sandnet_tcp_stream *s);
char *sandnet_tcp_local_address(sandnet_tcp_stream *s);

/** Closes the connection and frees `s` (NULL is fine). */
void sandnet_tcp_close(sandnet_tcp_stream *s);

/** Ready when sandnet_tcp_read would not wait. */
sandnet_pollable sandnet_tcp_subscribe(sandnet_tcp_stream *s);

/** A listening TCP socket (needs a tcp-listen://ADDR:PORT grant). */
typedef struct sandnet_tcp_listener sandnet_tcp_listener;

/** Binds "tcp-listen://ADDR:PORT" (port 0: a free port, if granted); the
 *  caller owns the listener. NULL with `err` filled on failure. */
sandnet_tcp_listener *sandnet_tcp_listen(const char *address, sandnet_error *err);

/** The bound address as "IP:PORT" (malloc'd, caller frees). */
char *sandnet_tcp_listener_address(sandnet_tcp_listener *l);

/** Waits for the next connection from a peer the policy accepts; the caller
 *  owns the stream (sandnet_tcp_close). */
sandnet_tcp_stream *sandnet_tcp_accept(sandnet_tcp_listener *l, sandnet_error *err);

/** Ready when sandnet_tcp_accept would not wait. */
sandnet_pollable sandnet_tcp_listener_subscribe(sandnet_tcp_listener *l);

/** Stops listening and frees `l` (NULL is fine). */
void sandnet_tcp_listener_close(sandnet_tcp_listener *l);

/* ------------------------------------------------------------------------ */
/* UDP                                                                      */

/** A UDP socket. */
typedef struct sandnet_udp_socket sandnet_udp_socket;

/** One received datagram. Owns its buffers: release with sandnet_datagram_free. */
typedef struct sandnet_datagram {
    uint8_t *data; /**< payload (plus a NUL) */
    size_t len;
    char *sender; /**< "IP:PORT" */
} sandnet_datagram;

/** Binds "udp-bind://ADDR:PORT" (a grant), or with NULL an ephemeral port
 *  (no grant needed: for send-and-read-replies). The caller owns the socket. */
sandnet_udp_socket *sandnet_udp_bind(const char *address, sandnet_error *err);

/** The bound address as "IP:PORT" (malloc'd, caller frees). */
char *sandnet_udp_local_address(sandnet_udp_socket *s);

/** Sends one datagram to "udp://host:port" (checked by the policy). */
bool sandnet_udp_send_to(sandnet_udp_socket *s, const char *target, const void *data, size_t len,
                         sandnet_error *err);

/** Waits up to `timeout_ms` (0: the policy's read timeout) for a datagram
 *  into `d` (caller frees it); SANDNET_ERR_TIMEOUT ("idle") when none came. */
bool sandnet_udp_receive(sandnet_udp_socket *s, uint32_t timeout_ms, sandnet_datagram *d,
                         sandnet_error *err);

/** Frees what sandnet_udp_receive put in `d` (safe on a zeroed struct). */
void sandnet_datagram_free(sandnet_datagram *d);

/** Joins / leaves multicast group `group` on IPv4 `iface` (NULL: the
 *  kernel's choice); needs a udp-multicast://GROUP grant. */
bool sandnet_udp_join_multicast(sandnet_udp_socket *s, const char *group, const char *iface,
                                sandnet_error *err);
bool sandnet_udp_leave_multicast(sandnet_udp_socket *s, const char *group, const char *iface,
                                 sandnet_error *err);

/** Allows sending to broadcast addresses (needs a broadcast grant). */
bool sandnet_udp_set_broadcast(sandnet_udp_socket *s, bool enabled, sandnet_error *err);

/** Ready when sandnet_udp_receive would not wait. */
sandnet_pollable sandnet_udp_subscribe(sandnet_udp_socket *s);

/** Closes the socket and frees `s` (NULL is fine). */
void sandnet_udp_close(sandnet_udp_socket *s);

/* ------------------------------------------------------------------------ */
/* HTTP: resumable upload (tus 1.0)                                         */
/*
 * creation (POST with Upload-Length), the server's offset (HEAD), one PATCH
 * per chunk streamed through sandnet_http_upload_*, termination (DELETE).
 * A PATCH that fails for a transport reason (not a denial, a limit or an
 * invalid argument) is resumed from the offset a new HEAD reports. After
 * every chunk the server confirmed (and every resume) the progress callback
 * answers continue, pause (stop; the upload stays on the server and is
 * resumed later from its URL with sandnet_tus_resume) or cancel (DELETE).
 * Policy: POST on the creation URL, HEAD,PATCH,DELETE on the uploads.
 *
 *     sandnet_tus_result r;
 *     if (!sandnet_tus_start("https://up.example.com/files", data, len, NULL, &r, &err)) ...
 *     printf("%s %s\n", r.state == SANDNET_TUS_DONE ? "done" : "stopped", r.url);
 *     sandnet_tus_result_free(&r);
 */

/** The protocol version sent in Tus-Resumable. */
#define SANDNET_TUS_VERSION "1.0.0"

/** What the progress callback asks for after a confirmed chunk. */
typedef enum sandnet_tus_control {
    SANDNET_TUS_CONTINUE, /**< send the next chunk */
    SANDNET_TUS_PAUSE,    /**< stop; resume later from the upload URL */
    SANDNET_TUS_CANCEL,   /**< stop and delete the upload (DELETE) */
} sandnet_tus_control;

/** Called with the confirmed offset (`sent`) and the total; `ctx` is the
 *  options' `ctx`. */
typedef sandnet_tus_control (*sandnet_tus_progress_fn)(sandnet_progress progress, void *ctx);

/** Options for sandnet_tus_start / _resume; zero-initialise (or pass NULL). */
typedef struct sandnet_tus_options {
    size_t chunk_bytes;               /**< largest PATCH body; 0: 4 MiB (keep it under max_body_bytes) */
    uint32_t max_resumes;             /**< failed PATCHes resumed; 0: 5 */
    bool no_resumes;                  /**< true: a failed PATCH fails the upload */
    sandnet_tus_progress_fn on_progress; /**< NULL: always continue */
    void *ctx;                        /**< passed to on_progress, never touched */
} sandnet_tus_options;

/** How an upload ended. */
typedef enum sandnet_tus_state {
    SANDNET_TUS_DONE,      /**< the server holds every byte */
    SANDNET_TUS_PAUSED,    /**< paused on request; `url` resumes it */
    SANDNET_TUS_CANCELLED, /**< cancelled on request; the server deleted it */
} sandnet_tus_state;

/** The outcome of sandnet_tus_start / _resume. Owns `url`: release with
 *  sandnet_tus_result_free. */
typedef struct sandnet_tus_result {
    sandnet_tus_state state;
    char *url;        /**< the upload's URL (malloc'd) */
    uint64_t offset;  /**< bytes the server confirmed */
    uint32_t resumes; /**< failed PATCHes resumed */
} sandnet_tus_result;

/** Creates an upload of `length` bytes at `create_url` (POST); returns its
 *  URL (malloc'd, caller frees), or NULL with `err` filled. */
char *sandnet_tus_create(const char *create_url, uint64_t length, sandnet_error *err);

/** The server's offset of the upload at `upload_url` (HEAD) into `*offset`. */
bool sandnet_tus_offset(const char *upload_url, uint64_t *offset, sandnet_error *err);

/** Deletes the upload at `upload_url` (DELETE), e.g. a paused one. */
bool sandnet_tus_terminate(const char *upload_url, sandnet_error *err);

/** Creates the upload at `create_url`, then sends `data` as sandnet_tus_resume
 *  does. `data` is borrowed for the call; `opts` may be NULL. On true `out`
 *  is filled (caller frees it); on false `err` is (an upload created before
 *  the failure stays on the server). */
bool sandnet_tus_start(const char *create_url, const void *data, size_t len,
                       const sandnet_tus_options *opts, sandnet_tus_result *out, sandnet_error *err);

/** Sends `data` (the same bytes the upload was created for) to the upload at
 *  `upload_url` from the offset the server reports, in PATCH chunks. An
 *  offset past `len` fails with SANDNET_ERR_PROTOCOL. */
bool sandnet_tus_resume(const char *upload_url, const void *data, size_t len,
                        const sandnet_tus_options *opts, sandnet_tus_result *out, sandnet_error *err);

/** Frees what a start/resume put in `r` (safe on a zeroed struct). */
void sandnet_tus_result_free(sandnet_tus_result *r);

/* ------------------------------------------------------------------------ */
/* Process                                                                  */

/** Flushes stdout and stderr, then ends the run with exactly `code`. */
_Noreturn void sandnet_exit(uint8_t code);

#ifdef __cplusplus
}
#endif

#endif /* SANDNET_H */
