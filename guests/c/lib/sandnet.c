/*
 * sandnet.c: sandnet.h over the bindings `wit-bindgen c` generates for the
 * sandnet:net world `script` (script.h / script.c, made at build time), and
 * the `wasi:cli/run` export that calls the guest's main().
 */
#include "sandnet.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "script.h"

/* ------------------------------------------------------------------------ */
/* Strings                                                                  */

/** A malloc'd NUL-terminated copy of `len` bytes (never NULL). */
static char *copy_bytes(const uint8_t *ptr, size_t len) {
    char *out = malloc(len + 1);
    if (out == NULL) abort();
    if (len > 0) memcpy(out, ptr, len);
    out[len] = '\0';
    return out;
}

static char *copy_string(const script_string_t *s) {
    return copy_bytes(s->ptr, s->len);
}

/** Borrows `s` as a WIT string (no copy; the callee does not keep it). */
static script_string_t borrow_string(const char *s) {
    script_string_t out = {(uint8_t *)s, strlen(s)};
    return out;
}

static script_list_u8_t borrow_bytes(const void *data, size_t len) {
    script_list_u8_t out = {(uint8_t *)data, len};
    return out;
}

/* ------------------------------------------------------------------------ */
/* Errors                                                                   */

static const char *const KIND_NAMES[] = {
    "denied", "dns",    "connect",        "tls",      "timeout",
    "closed", "limit-exceeded", "protocol", "invalid-argument",
};

static const char *const TIMEOUT_NAMES[] = {"connect", "first-byte", "total", "idle"};

const char *sandnet_error_kind_name(sandnet_error_kind kind) {
    if ((size_t)kind < sizeof KIND_NAMES / sizeof KIND_NAMES[0]) return KIND_NAMES[kind];
    return "unknown";
}

/** Fills `out` from the generated error and frees the generated one. */
static void take_error(sandnet_net_types_net_error_t *raw, sandnet_error *out) {
    memset(out, 0, sizeof *out);
    out->kind = (sandnet_error_kind)raw->tag;
    switch (raw->tag) {
    case SANDNET_NET_TYPES_NET_ERROR_DENIED:
        out->reason = copy_string(&raw->val.denied.reason);
        if (raw->val.denied.suggestion.is_some) {
            out->suggestion = copy_string(&raw->val.denied.suggestion.val);
        }
        if (raw->val.denied.rule_line.is_some) out->rule_line = raw->val.denied.rule_line.val;
        break;
    case SANDNET_NET_TYPES_NET_ERROR_TIMEOUT: {
        uint8_t which = raw->val.timeout;
        const char *name = which < 4 ? TIMEOUT_NAMES[which] : "unknown";
        out->reason = copy_bytes((const uint8_t *)name, strlen(name));
        break;
    }
    case SANDNET_NET_TYPES_NET_ERROR_LIMIT_EXCEEDED: {
        const sandnet_net_types_limit_hit_t *hit = &raw->val.limit_exceeded;
        size_t cap = hit->name.len + 32;
        out->reason = malloc(cap);
        if (out->reason == NULL) abort();
        snprintf(out->reason, cap, "%.*s (%llu)", (int)hit->name.len, (const char *)hit->name.ptr,
                 (unsigned long long)hit->value);
        break;
    }
    default:
        /* dns, connect, tls, closed, protocol, invalid-argument: a string;
         * they share the union's first member layout. */
        out->reason = copy_string(&raw->val.dns);
        break;
    }
    sandnet_net_types_net_error_free(raw);
}

void sandnet_error_print(const sandnet_error *err, const char *prefix, FILE *out) {
    fprintf(out, "%s: %s: %s\n", prefix, sandnet_error_kind_name(err->kind),
            err->reason ? err->reason : "");
    if (err->suggestion != NULL) {
        fprintf(out, "hint: add to the policy's allow list: %s\n", err->suggestion);
    }
}

void sandnet_error_free(sandnet_error *err) {
    free(err->reason);
    free(err->suggestion);
    err->reason = NULL;
    err->suggestion = NULL;
}

/* ------------------------------------------------------------------------ */
/* HTTP                                                                     */

/** The WIT method for `name` (case-insensitive for the standard ones). */
static sandnet_net_http_method_t method_of(const char *name) {
    static const char *const STANDARD[] = {"GET",    "HEAD",    "POST",  "PUT",    "PATCH",
                                           "DELETE", "OPTIONS", "TRACE", "CONNECT"};
    sandnet_net_http_method_t m;
    memset(&m, 0, sizeof m);
    if (name == NULL) {
        m.tag = SANDNET_NET_HTTP_METHOD_GET;
        return m;
    }
    for (uint8_t i = 0; i < sizeof STANDARD / sizeof STANDARD[0]; i++) {
        if (strcasecmp(name, STANDARD[i]) == 0) {
            m.tag = i; /* the WIT cases are in this order */
            return m;
        }
    }
    m.tag = SANDNET_NET_HTTP_METHOD_OTHER;
    m.val.other = borrow_string(name);
    return m;
}

static script_option_u32_t opt_u32(uint32_t v) {
    script_option_u32_t out = {v != 0, v};
    return out;
}

bool sandnet_http_fetch(const sandnet_request *req, sandnet_response *resp, sandnet_error *err) {
    memset(resp, 0, sizeof *resp);
    script_tuple2_string_string_t *headers = NULL;
    if (req->header_count > 0) {
        headers = calloc(req->header_count, sizeof *headers);
        if (headers == NULL) abort();
        for (size_t i = 0; i < req->header_count; i++) {
            headers[i].f0 = borrow_string(req->headers[i].name);
            headers[i].f1 = borrow_string(req->headers[i].value);
        }
    }
    sandnet_net_http_request_t wit_req;
    memset(&wit_req, 0, sizeof wit_req);
    wit_req.method = method_of(req->method);
    wit_req.url = borrow_string(req->url);
    wit_req.headers.ptr = headers;
    wit_req.headers.len = req->header_count;
    if (req->body != NULL) {
        wit_req.body.is_some = true;
        wit_req.body.val = borrow_bytes(req->body, req->body_len);
    }
    const sandnet_request_options *o = &req->options;
    sandnet_net_http_request_options_t options;
    memset(&options, 0, sizeof options);
    options.total_timeout_ms = opt_u32(o->timeout_ms);
    options.connect_timeout_ms = opt_u32(o->connect_timeout_ms);
    options.first_byte_timeout_ms = opt_u32(o->first_byte_timeout_ms);
    options.max_redirects = opt_u32(o->max_redirects);
    options.max_body_bytes.is_some = o->max_body_bytes != 0;
    options.max_body_bytes.val = o->max_body_bytes;

    sandnet_net_http_response_t raw;
    sandnet_net_http_net_error_t raw_err;
    bool ok = sandnet_net_http_fetch(&wit_req, &options, &raw, &raw_err);
    free(headers);
    if (!ok) {
        take_error(&raw_err, err);
        return false;
    }
    resp->status = raw.status;
    resp->reason = copy_string(&raw.reason);
    resp->url = copy_string(&raw.url);
    resp->body = (uint8_t *)copy_bytes(raw.body.ptr, raw.body.len);
    resp->body_len = raw.body.len;
    resp->header_count = raw.headers.len;
    if (raw.headers.len > 0) {
        resp->headers = calloc(raw.headers.len, sizeof *resp->headers);
        if (resp->headers == NULL) abort();
        for (size_t i = 0; i < raw.headers.len; i++) {
            resp->headers[i].name = copy_string(&raw.headers.ptr[i].f0);
            resp->headers[i].value = copy_string(&raw.headers.ptr[i].f1);
        }
    }
    sandnet_net_http_response_free(&raw);
    return true;
}

bool sandnet_http_get(const char *url, sandnet_response *resp, sandnet_error *err) {
    sandnet_request req;
    memset(&req, 0, sizeof req);
    req.url = url;
    return sandnet_http_fetch(&req, resp, err);
}

const char *sandnet_response_header(const sandnet_response *resp, const char *name) {
    for (size_t i = 0; i < resp->header_count; i++) {
        if (strcasecmp(resp->headers[i].name, name) == 0) return resp->headers[i].value;
    }
    return NULL;
}

void sandnet_response_free(sandnet_response *resp) {
    for (size_t i = 0; i < resp->header_count; i++) {
        free((char *)resp->headers[i].name);
        free((char *)resp->headers[i].value);
    }
    free(resp->headers);
    free(resp->reason);
    free(resp->url);
    free(resp->body);
    memset(resp, 0, sizeof *resp);
}

/* ------------------------------------------------------------------------ */
/* TCP                                                                      */

struct sandnet_tcp_stream {
    sandnet_net_tcp_own_stream_t own;
};

static sandnet_net_tcp_borrow_stream_t borrow_stream(sandnet_tcp_stream *s) {
    return sandnet_net_tcp_borrow_stream(s->own);
}

sandnet_tcp_stream *sandnet_tcp_connect(const char *url, sandnet_error *err) {
    script_string_t wit_url = borrow_string(url);
    sandnet_net_tcp_own_stream_t own;
    sandnet_net_tcp_net_error_t raw_err;
    if (!sandnet_net_tcp_static_stream_connect(&wit_url, NULL, &own, &raw_err)) {
        take_error(&raw_err, err);
        return NULL;
    }
    sandnet_tcp_stream *s = malloc(sizeof *s);
    if (s == NULL) abort();
    s->own = own;
    return s;
}

bool sandnet_tcp_read(sandnet_tcp_stream *s, void *buf, size_t cap, size_t *len, sandnet_error *err) {
    script_list_u8_t data;
    sandnet_net_tcp_net_error_t raw_err;
    uint32_t max = cap > UINT32_MAX ? UINT32_MAX : (uint32_t)cap;
    if (!sandnet_net_tcp_method_stream_read(borrow_stream(s), max, &data, &raw_err)) {
        take_error(&raw_err, err);
        return false;
    }
    size_t n = data.len < cap ? data.len : cap; /* the host never sends more than max */
    if (n > 0) memcpy(buf, data.ptr, n);
    *len = n;
    script_list_u8_free(&data);
    return true;
}

bool sandnet_tcp_write(sandnet_tcp_stream *s, const void *data, size_t len, sandnet_error *err) {
    script_list_u8_t bytes = borrow_bytes(data, len);
    sandnet_net_tcp_net_error_t raw_err;
    if (!sandnet_net_tcp_method_stream_write(borrow_stream(s), &bytes, &raw_err)) {
        take_error(&raw_err, err);
        return false;
    }
    return true;
}

bool sandnet_tcp_shutdown(sandnet_tcp_stream *s, sandnet_error *err) {
    sandnet_net_tcp_net_error_t raw_err;
    if (!sandnet_net_tcp_method_stream_shutdown(borrow_stream(s), &raw_err)) {
        take_error(&raw_err, err);
        return false;
    }
    return true;
}

char *sandnet_tcp_peer_address(sandnet_tcp_stream *s) {
    script_string_t raw;
    sandnet_net_tcp_method_stream_peer_address(borrow_stream(s), &raw);
    char *out = copy_string(&raw);
    script_string_free(&raw);
    return out;
}

void sandnet_tcp_close(sandnet_tcp_stream *s) {
    if (s == NULL) return;
    sandnet_net_tcp_stream_drop_own(s->own);
    free(s);
}

/* ------------------------------------------------------------------------ */
/* Waiting                                                                  */

sandnet_pollable sandnet_tcp_subscribe(sandnet_tcp_stream *s) {
    sandnet_pollable p = {sandnet_net_tcp_method_stream_subscribe(borrow_stream(s)).__handle};
    return p;
}

sandnet_pollable sandnet_timer(uint64_t ms) {
    sandnet_pollable p = {wasi_clocks_monotonic_clock_subscribe_duration(ms * 1000000u).__handle};
    return p;
}

size_t sandnet_poll(const sandnet_pollable *pollables, size_t n, size_t *ready) {
    wasi_io_poll_borrow_pollable_t *borrows = calloc(n ? n : 1, sizeof *borrows);
    if (borrows == NULL) abort();
    for (size_t i = 0; i < n; i++) {
        wasi_io_poll_own_pollable_t own = {pollables[i].handle};
        borrows[i] = wasi_io_poll_borrow_pollable(own);
    }
    wasi_io_poll_list_borrow_pollable_t in = {borrows, n};
    script_list_u32_t out;
    wasi_io_poll_poll(&in, &out);
    free(borrows);
    size_t count = out.len < n ? out.len : n;
    for (size_t i = 0; i < count; i++) ready[i] = out.ptr[i];
    script_list_u32_free(&out);
    return count;
}

void sandnet_pollable_drop(sandnet_pollable p) {
    wasi_io_poll_own_pollable_t own = {p.handle};
    wasi_io_poll_pollable_drop_own(own);
}

/* ------------------------------------------------------------------------ */
/* Process                                                                  */

_Noreturn void sandnet_exit(uint8_t code) {
    fflush(stdout);
    fflush(stderr);
    wasi_cli_exit_exit_with_code(code);
    abort(); /* not reached: the import does not return */
}

/* The guest's entry point. */
int main(int argc, char **argv);

/*
 * The `wasi:cli/run` export. The guest is linked as a reactor
 * (-mexec-model=reactor, constructors run once from _initialize): a wasm-ld
 * "command" would wrap every export, cabi_realloc included, in constructor
 * and destructor calls, flushing stdio in the middle of a host call. Runs
 * main() with the run's arguments, flushes stdio (no destructors run), and
 * reports main's return value as the exact exit status.
 */
bool exports_wasi_cli_run_run(void) {
    script_list_string_t raw;
    wasi_cli_environment_get_arguments(&raw);
    char **argv = calloc(raw.len + 1, sizeof *argv);
    if (argv == NULL) abort();
    for (size_t i = 0; i < raw.len; i++) argv[i] = copy_string(&raw.ptr[i]);
    int argc = (int)raw.len;
    script_list_string_free(&raw);
    int code = main(argc, argv);
    fflush(stdout);
    fflush(stderr);
    if (code != 0) sandnet_exit((uint8_t)code);
    return true;
}
