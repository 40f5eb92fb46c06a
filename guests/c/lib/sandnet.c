/*
 * sandnet.c: sandnet.h over the bindings `wit-bindgen c` generates for the
 * sandnet:net world `script` (script.h / script.c, made at build time), and
 * the `wasi:cli/run` export that calls the guest's main(). Sections follow
 * the header's: errors, HTTP (fetch, download, upload, multipart), WebSocket,
 * SSE, TCP, UDP, waiting, resumable upload (tus), process.
 */
#include "sandnet.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

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

/** A malloc'd copy of a string the host handed over; frees the original. */
static char *take_string(script_string_t *s) {
    char *out = copy_string(s);
    script_string_free(s);
    return out;
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

/** Headers as a borrowed WIT list; free `out->ptr` (not the strings) after the call. */
static sandnet_net_types_headers_t borrow_headers(const sandnet_header *headers, size_t count) {
    sandnet_net_types_headers_t out = {NULL, count};
    if (count > 0) {
        out.ptr = calloc(count, sizeof *out.ptr);
        if (out.ptr == NULL) abort();
        for (size_t i = 0; i < count; i++) {
            out.ptr[i].f0 = borrow_string(headers[i].name);
            out.ptr[i].f1 = borrow_string(headers[i].value);
        }
    }
    return out;
}

/** Strings as a borrowed WIT list; free `out.ptr` after the call. */
static script_list_string_t borrow_strings(const char *const *items, size_t count) {
    script_list_string_t out = {NULL, count};
    if (count > 0) {
        out.ptr = calloc(count, sizeof *out.ptr);
        if (out.ptr == NULL) abort();
        for (size_t i = 0; i < count; i++) out.ptr[i] = borrow_string(items[i]);
    }
    return out;
}

/** A request and its options, borrowed from a sandnet_request for one call. */
typedef struct wit_request {
    sandnet_net_http_request_t req;
    sandnet_net_http_request_options_t options;
} wit_request;

static void wit_request_init(wit_request *w, const sandnet_request *req) {
    memset(w, 0, sizeof *w);
    w->req.method = method_of(req->method);
    w->req.url = borrow_string(req->url);
    w->req.headers = borrow_headers(req->headers, req->header_count);
    if (req->body != NULL) {
        w->req.body.is_some = true;
        w->req.body.val = borrow_bytes(req->body, req->body_len);
    }
    const sandnet_request_options *o = &req->options;
    w->options.total_timeout_ms = opt_u32(o->timeout_ms);
    w->options.connect_timeout_ms = opt_u32(o->connect_timeout_ms);
    w->options.first_byte_timeout_ms = opt_u32(o->first_byte_timeout_ms);
    w->options.max_redirects = opt_u32(o->max_redirects);
    w->options.max_body_bytes.is_some = o->max_body_bytes != 0;
    w->options.max_body_bytes.val = o->max_body_bytes;
}

static void wit_request_release(wit_request *w) {
    free(w->req.headers.ptr);
}

/** Malloc'd copies of a WIT header list (sets `*count`). */
static sandnet_header *copy_headers(const sandnet_net_types_headers_t *raw, size_t *count) {
    *count = raw->len;
    if (raw->len == 0) return NULL;
    sandnet_header *out = calloc(raw->len, sizeof *out);
    if (out == NULL) abort();
    for (size_t i = 0; i < raw->len; i++) {
        out[i].name = copy_string(&raw->ptr[i].f0);
        out[i].value = copy_string(&raw->ptr[i].f1);
    }
    return out;
}

static void free_headers(sandnet_header *headers, size_t count) {
    for (size_t i = 0; i < count; i++) {
        free((char *)headers[i].name);
        free((char *)headers[i].value);
    }
    free(headers);
}

static const char *find_header(const sandnet_header *headers, size_t count, const char *name) {
    for (size_t i = 0; i < count; i++) {
        if (strcasecmp(headers[i].name, name) == 0) return headers[i].value;
    }
    return NULL;
}

bool sandnet_http_fetch(const sandnet_request *req, sandnet_response *resp, sandnet_error *err) {
    memset(resp, 0, sizeof *resp);
    wit_request w;
    wit_request_init(&w, req);
    sandnet_net_http_response_t raw;
    sandnet_net_http_net_error_t raw_err;
    bool ok = sandnet_net_http_fetch(&w.req, &w.options, &raw, &raw_err);
    wit_request_release(&w);
    if (!ok) {
        take_error(&raw_err, err);
        return false;
    }
    resp->status = raw.status;
    resp->reason = copy_string(&raw.reason);
    resp->url = copy_string(&raw.url);
    resp->body = (uint8_t *)copy_bytes(raw.body.ptr, raw.body.len);
    resp->body_len = raw.body.len;
    resp->headers = copy_headers(&raw.headers, &resp->header_count);
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
    return find_header(resp->headers, resp->header_count, name);
}

void sandnet_response_free(sandnet_response *resp) {
    free_headers(resp->headers, resp->header_count);
    free(resp->reason);
    free(resp->url);
    free(resp->body);
    memset(resp, 0, sizeof *resp);
}

/* ------------------------------------------------------------------------ */
/* HTTP: streamed download                                                  */

static sandnet_pollable pollable_of(int32_t handle) {
    sandnet_pollable p = {handle};
    return p;
}

/** malloc or abort: the guest has no way on without memory. */
static void *alloc_zeroed(size_t size) {
    void *out = calloc(1, size);
    if (out == NULL) abort();
    return out;
}

struct sandnet_http_pending {
    sandnet_net_http_own_pending_response_t own;
    bool spent; /**< the outcome was taken (the handle is still to drop) */
};

struct sandnet_http_incoming {
    sandnet_net_http_own_incoming_response_t own;
    uint16_t status;
    char *reason;
    char *url;
    sandnet_header *headers;
    size_t header_count;
};

static sandnet_http_pending *pending_of(sandnet_net_http_own_pending_response_t own) {
    sandnet_http_pending *p = alloc_zeroed(sizeof *p);
    p->own = own;
    return p;
}

sandnet_http_pending *sandnet_http_send(const sandnet_request *req, sandnet_error *err) {
    wit_request w;
    wit_request_init(&w, req);
    sandnet_net_http_own_pending_response_t own;
    sandnet_net_http_net_error_t raw_err;
    bool ok = sandnet_net_http_send(&w.req, &w.options, &own, &raw_err);
    wit_request_release(&w);
    if (!ok) {
        take_error(&raw_err, err);
        return NULL;
    }
    return pending_of(own);
}

sandnet_pollable sandnet_http_pending_subscribe(sandnet_http_pending *p) {
    return pollable_of(
        sandnet_net_http_method_pending_response_subscribe(sandnet_net_http_borrow_pending_response(p->own))
            .__handle);
}

/** Reads the head of a response the host handed over and keeps its handle. */
static sandnet_http_incoming *incoming_of(sandnet_net_http_own_incoming_response_t own) {
    sandnet_http_incoming *in = alloc_zeroed(sizeof *in);
    sandnet_net_http_borrow_incoming_response_t b = sandnet_net_http_borrow_incoming_response(own);
    in->own = own;
    in->status = sandnet_net_http_method_incoming_response_status(b);
    script_string_t text;
    sandnet_net_http_method_incoming_response_reason(b, &text);
    in->reason = copy_string(&text);
    script_string_free(&text);
    sandnet_net_http_method_incoming_response_url(b, &text);
    in->url = copy_string(&text);
    script_string_free(&text);
    sandnet_net_http_headers_t headers;
    sandnet_net_http_method_incoming_response_headers(b, &headers);
    in->headers = copy_headers(&headers, &in->header_count);
    sandnet_net_types_headers_free(&headers);
    return in;
}

bool sandnet_http_pending_try(sandnet_http_pending *p, sandnet_http_incoming **out, sandnet_error *err) {
    *out = NULL;
    if (p->spent) {
        memset(err, 0, sizeof *err);
        err->kind = SANDNET_ERR_INVALID_ARGUMENT;
        const char *why = "the response was already taken from this pending request";
        err->reason = copy_bytes((const uint8_t *)why, strlen(why));
        return true;
    }
    sandnet_net_http_result_own_incoming_response_net_error_t result;
    if (!sandnet_net_http_method_pending_response_get(sandnet_net_http_borrow_pending_response(p->own),
                                                      &result)) {
        return false;
    }
    p->spent = true;
    if (result.is_err) {
        take_error(&result.val.err, err);
    } else {
        *out = incoming_of(result.val.ok);
    }
    return true;
}

sandnet_http_incoming *sandnet_http_pending_wait(sandnet_http_pending *p, sandnet_error *err) {
    sandnet_http_incoming *in = NULL;
    while (!sandnet_http_pending_try(p, &in, err)) {
        sandnet_pollable ready = sandnet_http_pending_subscribe(p);
        size_t index;
        sandnet_poll(&ready, 1, &index);
        sandnet_pollable_drop(ready);
    }
    sandnet_http_pending_free(p);
    return in;
}

void sandnet_http_pending_free(sandnet_http_pending *p) {
    if (p == NULL) return;
    sandnet_net_http_pending_response_drop_own(p->own);
    free(p);
}

uint16_t sandnet_http_incoming_status(const sandnet_http_incoming *in) {
    return in->status;
}

const char *sandnet_http_incoming_reason(const sandnet_http_incoming *in) {
    return in->reason;
}

const char *sandnet_http_incoming_url(const sandnet_http_incoming *in) {
    return in->url;
}

const char *sandnet_http_incoming_header(const sandnet_http_incoming *in, const char *name) {
    return find_header(in->headers, in->header_count, name);
}

/** The WIT `max-bytes` for a caller's buffer of `cap` bytes. */
static uint32_t max_bytes(size_t cap) {
    return cap > UINT32_MAX ? UINT32_MAX : (uint32_t)cap;
}

bool sandnet_http_incoming_read(sandnet_http_incoming *in, void *buf, size_t cap, size_t *len,
                                sandnet_error *err) {
    script_option_list_u8_t chunk;
    sandnet_net_http_net_error_t raw_err;
    *len = 0;
    if (!sandnet_net_http_method_incoming_response_read(sandnet_net_http_borrow_incoming_response(in->own),
                                                        max_bytes(cap), &chunk, &raw_err)) {
        take_error(&raw_err, err);
        return false;
    }
    if (chunk.is_some) {
        size_t n = chunk.val.len < cap ? chunk.val.len : cap; /* the host never sends more */
        if (n > 0) memcpy(buf, chunk.val.ptr, n);
        *len = n;
        script_list_u8_free(&chunk.val);
    }
    return true;
}

sandnet_pollable sandnet_http_incoming_subscribe(sandnet_http_incoming *in) {
    return pollable_of(sandnet_net_http_method_incoming_response_subscribe(
                           sandnet_net_http_borrow_incoming_response(in->own))
                           .__handle);
}

void sandnet_http_incoming_free(sandnet_http_incoming *in) {
    if (in == NULL) return;
    sandnet_net_http_incoming_response_drop_own(in->own);
    free(in->reason);
    free(in->url);
    free_headers(in->headers, in->header_count);
    free(in);
}

/* ------------------------------------------------------------------------ */
/* HTTP: streamed upload                                                    */

struct sandnet_http_upload {
    sandnet_net_http_own_outgoing_body_t own;
};

static sandnet_net_http_borrow_outgoing_body_t borrow_upload(sandnet_http_upload *up) {
    return sandnet_net_http_borrow_outgoing_body(up->own);
}

sandnet_http_upload *sandnet_http_upload_start(const sandnet_request *req, uint64_t total_bytes,
                                               sandnet_error *err) {
    wit_request w;
    wit_request_init(&w, req);
    uint64_t total = total_bytes;
    sandnet_net_http_own_outgoing_body_t own;
    sandnet_net_http_net_error_t raw_err;
    bool ok = sandnet_net_http_upload(&w.req, total_bytes == SANDNET_UNKNOWN_TOTAL ? NULL : &total,
                                      &w.options, &own, &raw_err);
    wit_request_release(&w);
    if (!ok) {
        take_error(&raw_err, err);
        return NULL;
    }
    sandnet_http_upload *up = alloc_zeroed(sizeof *up);
    up->own = own;
    return up;
}

bool sandnet_http_upload_write(sandnet_http_upload *up, const void *data, size_t len,
                               sandnet_error *err) {
    script_list_u8_t chunk = borrow_bytes(data, len);
    sandnet_net_http_net_error_t raw_err;
    if (!sandnet_net_http_method_outgoing_body_write(borrow_upload(up), &chunk, &raw_err)) {
        take_error(&raw_err, err);
        return false;
    }
    return true;
}

sandnet_progress sandnet_http_upload_progress(sandnet_http_upload *up) {
    sandnet_net_http_progress_t raw;
    sandnet_net_http_method_outgoing_body_progress(borrow_upload(up), &raw);
    sandnet_progress out = {raw.sent, raw.total.is_some ? raw.total.val : SANDNET_UNKNOWN_TOTAL};
    return out;
}

sandnet_pollable sandnet_http_upload_subscribe(sandnet_http_upload *up) {
    return pollable_of(sandnet_net_http_method_outgoing_body_subscribe(borrow_upload(up)).__handle);
}

sandnet_http_pending *sandnet_http_upload_finish(sandnet_http_upload *up, sandnet_error *err) {
    sandnet_net_http_own_pending_response_t own;
    sandnet_net_http_net_error_t raw_err;
    bool ok = sandnet_net_http_static_outgoing_body_finish(up->own, &own, &raw_err);
    free(up); /* finish took the handle either way */
    if (!ok) {
        take_error(&raw_err, err);
        return NULL;
    }
    return pending_of(own);
}

void sandnet_http_upload_free(sandnet_http_upload *up) {
    if (up == NULL) return;
    sandnet_net_http_outgoing_body_drop_own(up->own);
    free(up);
}

/* ------------------------------------------------------------------------ */
/* HTTP: multipart/form-data                                                */

/** Largest chunk a form is written (and a file read) in. */
enum { MULTIPART_CHUNK = 64 * 1024 };

/** One part: its header block (boundary line included) and content. */
typedef struct multipart_part {
    char *name;
    char *head;
    size_t head_len;
    const uint8_t *data; /**< borrowed bytes, or NULL for a reader */
    char *text;          /**< a text field's own copy (also `data`) */
    uint64_t size;
    sandnet_read_fn read;
    void *ctx;
} multipart_part;

struct sandnet_multipart {
    char boundary[41]; /**< "sandnet-" and 32 hex digits */
    char *content_type;
    multipart_part *parts;
    size_t count;
    size_t cap;
};

/** A malloc'd string made by vsnprintf; `*len` (if not NULL) its length. */
static char *formatted(size_t *len, const char *fmt, ...) {
    va_list args;
    va_start(args, fmt);
    int n = vsnprintf(NULL, 0, fmt, args);
    va_end(args);
    if (n < 0) abort();
    char *out = malloc((size_t)n + 1);
    if (out == NULL) abort();
    va_start(args, fmt);
    vsnprintf(out, (size_t)n + 1, fmt, args);
    va_end(args);
    if (len != NULL) *len = (size_t)n;
    return out;
}

/** Fills `err` with an error the library itself reports. */
static void local_error(sandnet_error *err, sandnet_error_kind kind, char *reason) {
    memset(err, 0, sizeof *err);
    err->kind = kind;
    err->reason = reason;
}

/** `value` as a quoted parameter, `"` CR LF percent-encoded as browsers do
 *  for form-data names and file names (malloc'd). */
static char *quoted(const char *value) {
    size_t len = strlen(value);
    char *out = malloc(3 * len + 3);
    if (out == NULL) abort();
    size_t at = 0;
    out[at++] = '"';
    for (const char *c = value; *c != '\0'; c++) {
        const char *code = *c == '"' ? "%22" : *c == '\r' ? "%0D" : *c == '\n' ? "%0A" : NULL;
        if (code != NULL) {
            memcpy(out + at, code, 3);
            at += 3;
        } else {
            out[at++] = *c;
        }
    }
    out[at++] = '"';
    out[at] = '\0';
    return out;
}

sandnet_multipart *sandnet_multipart_new(void) {
    sandnet_multipart *form = alloc_zeroed(sizeof *form);
    uint8_t bits[16];
    if (getentropy(bits, sizeof bits) != 0) abort();
    memcpy(form->boundary, "sandnet-", 8);
    for (size_t i = 0; i < sizeof bits; i++) {
        snprintf(form->boundary + 8 + 2 * i, 3, "%02x", bits[i]);
    }
    form->content_type = formatted(NULL, "multipart/form-data; boundary=%s", form->boundary);
    return form;
}

/** Appends a part whose header names `name` (and `filename` with its type,
 *  for a file); the caller sets its content. */
static multipart_part *add_part(sandnet_multipart *form, const char *name, const char *filename,
                                const char *content_type) {
    if (form->count == form->cap) {
        form->cap = form->cap == 0 ? 4 : 2 * form->cap;
        form->parts = realloc(form->parts, form->cap * sizeof *form->parts);
        if (form->parts == NULL) abort();
    }
    multipart_part *part = &form->parts[form->count++];
    memset(part, 0, sizeof *part);
    part->name = copy_bytes((const uint8_t *)name, strlen(name));
    char *qname = quoted(name);
    if (filename == NULL) {
        part->head = formatted(&part->head_len,
                               "--%s\r\nContent-Disposition: form-data; name=%s\r\n\r\n",
                               form->boundary, qname);
    } else {
        char *qfile = quoted(filename);
        const char *given = content_type != NULL ? content_type : "application/octet-stream";
        char *kind = copy_bytes((const uint8_t *)given, strcspn(given, "\r\n"));
        part->head = formatted(&part->head_len,
                               "--%s\r\nContent-Disposition: form-data; name=%s; filename=%s\r\n"
                               "Content-Type: %s\r\n\r\n",
                               form->boundary, qname, qfile, kind);
        free(qfile);
        free(kind);
    }
    free(qname);
    return part;
}

bool sandnet_multipart_add_text(sandnet_multipart *form, const char *name, const char *value,
                                sandnet_error *err) {
    if (name == NULL || value == NULL) {
        local_error(err, SANDNET_ERR_INVALID_ARGUMENT,
                    formatted(NULL, "a multipart text field needs a name and a value (got %s)",
                              name == NULL ? "no name" : "no value"));
        return false;
    }
    multipart_part *part = add_part(form, name, NULL, NULL);
    part->size = strlen(value);
    part->text = copy_bytes((const uint8_t *)value, part->size);
    part->data = (const uint8_t *)part->text;
    return true;
}

/** Adds a file part once its names and content (`what`, usable when
 *  `content_ok`) are checked; NULL with `err` filled when they are not. */
static multipart_part *add_file_part(sandnet_multipart *form, const char *name,
                                     const char *filename, const char *content_type,
                                     bool content_ok, const char *what, sandnet_error *err) {
    if (name == NULL || filename == NULL || !content_ok) {
        local_error(err, SANDNET_ERR_INVALID_ARGUMENT,
                    formatted(NULL, "multipart file \"%s\": a name, a file name and %s are needed",
                              name == NULL ? "(null)" : name, what));
        return NULL;
    }
    return add_part(form, name, filename, content_type);
}

bool sandnet_multipart_add_file(sandnet_multipart *form, const char *name, const char *filename,
                                const char *content_type, const void *data, size_t len,
                                sandnet_error *err) {
    multipart_part *part = add_file_part(form, name, filename, content_type,
                                         data != NULL || len == 0,
                                         "data (NULL only when len is 0)", err);
    if (part == NULL) return false;
    part->data = len > 0 ? data : (const uint8_t *)"";
    part->size = len;
    return true;
}

bool sandnet_multipart_add_file_reader(sandnet_multipart *form, const char *name,
                                       const char *filename, const char *content_type,
                                       uint64_t size, sandnet_read_fn read, void *ctx,
                                       sandnet_error *err) {
    multipart_part *part = add_file_part(form, name, filename, content_type, read != NULL,
                                         "a read function", err);
    if (part == NULL) return false;
    part->size = size;
    part->read = read;
    part->ctx = ctx;
    return true;
}

/** The closing boundary line's length: "--", the boundary, "--\r\n". */
static size_t closing_len(const sandnet_multipart *form) {
    return strlen(form->boundary) + 6;
}

uint64_t sandnet_multipart_total(const sandnet_multipart *form) {
    uint64_t total = closing_len(form);
    for (size_t i = 0; i < form->count; i++) {
        total += form->parts[i].head_len + form->parts[i].size + 2;
    }
    return total;
}

const char *sandnet_multipart_content_type(const sandnet_multipart *form) {
    return form->content_type;
}

/** Where sandnet_multipart_send writes, and whom it tells. */
typedef struct multipart_sink {
    sandnet_http_upload *up;
    sandnet_progress_fn on_progress;
    void *ctx;
} multipart_sink;

/** Writes `len` bytes in chunks, reporting progress after each. */
static bool sink_write(multipart_sink *sink, const void *data, size_t len, sandnet_error *err) {
    const uint8_t *at = data;
    do {
        size_t n = len < MULTIPART_CHUNK ? len : MULTIPART_CHUNK;
        if (!sandnet_http_upload_write(sink->up, at, n, err)) return false;
        if (sink->on_progress != NULL) {
            sink->on_progress(sink->ctx, sandnet_http_upload_progress(sink->up));
        }
        at += n;
        len -= n;
    } while (len > 0);
    return true;
}

/** Writes a reader part's content: exactly `part->size` bytes. */
static bool sink_read_part(multipart_sink *sink, const multipart_part *part, uint8_t *buf,
                           sandnet_error *err) {
    uint64_t left = part->size;
    while (left > 0) {
        size_t want = left < MULTIPART_CHUNK ? (size_t)left : MULTIPART_CHUNK;
        ptrdiff_t got = part->read(part->ctx, buf, want);
        if (got <= 0 || (size_t)got > want) {
            local_error(err, SANDNET_ERR_INVALID_ARGUMENT,
                        formatted(NULL, "multipart file \"%s\" announced %llu bytes but its read "
                                  "function returned %td with %llu left (asked for %zu)",
                                  part->name, (unsigned long long)part->size, got,
                                  (unsigned long long)left, want));
            return false;
        }
        if (!sink_write(sink, buf, (size_t)got, err)) return false;
        left -= (uint64_t)got;
    }
    return true;
}

/** Writes every part and the closing boundary. */
static bool sink_form(multipart_sink *sink, const sandnet_multipart *form, sandnet_error *err) {
    uint8_t *buf = malloc(MULTIPART_CHUNK);
    if (buf == NULL) abort();
    bool ok = true;
    for (size_t i = 0; ok && i < form->count; i++) {
        const multipart_part *part = &form->parts[i];
        ok = sink_write(sink, part->head, part->head_len, err);
        if (ok && part->read != NULL) {
            ok = sink_read_part(sink, part, buf, err);
        } else if (ok && part->size > 0) {
            ok = sink_write(sink, part->data, (size_t)part->size, err);
        }
        ok = ok && sink_write(sink, "\r\n", 2, err);
    }
    free(buf);
    if (!ok) return false;
    char closing[48];
    snprintf(closing, sizeof closing, "--%s--\r\n", form->boundary);
    return sink_write(sink, closing, closing_len(form), err);
}

sandnet_http_pending *sandnet_multipart_send(sandnet_multipart *form, const sandnet_request *req,
                                             sandnet_progress_fn on_progress, void *ctx,
                                             sandnet_error *err) {
    if (req->body != NULL) {
        sandnet_multipart_free(form);
        local_error(err, SANDNET_ERR_INVALID_ARGUMENT,
                    formatted(NULL, "sandnet_multipart_send: the request to %s has a body; "
                              "leave `body` NULL, the form is the body", req->url));
        return NULL;
    }
    sandnet_header *headers = alloc_zeroed((req->header_count + 1) * sizeof *headers);
    size_t count = 0;
    for (size_t i = 0; i < req->header_count; i++) {
        if (strcasecmp(req->headers[i].name, "content-type") != 0) headers[count++] = req->headers[i];
    }
    headers[count].name = "content-type";
    headers[count++].value = form->content_type;
    sandnet_request with_type = *req;
    with_type.headers = headers;
    with_type.header_count = count;
    multipart_sink sink = {NULL, on_progress, ctx};
    sink.up = sandnet_http_upload_start(&with_type, sandnet_multipart_total(form), err);
    free(headers);
    sandnet_http_pending *pending = NULL;
    if (sink.up != NULL) {
        if (sink_form(&sink, form, err)) {
            pending = sandnet_http_upload_finish(sink.up, err);
        } else {
            sandnet_http_upload_free(sink.up);
        }
    }
    sandnet_multipart_free(form);
    return pending;
}

void sandnet_multipart_free(sandnet_multipart *form) {
    if (form == NULL) return;
    for (size_t i = 0; i < form->count; i++) {
        free(form->parts[i].name);
        free(form->parts[i].head);
        free(form->parts[i].text);
    }
    free(form->parts);
    free(form->content_type);
    free(form);
}

/* ------------------------------------------------------------------------ */
/* WebSocket                                                                */

struct sandnet_ws {
    sandnet_net_websocket_own_connection_t own;
};

struct sandnet_ws_listener {
    sandnet_net_websocket_own_listener_t own;
};

static sandnet_net_websocket_borrow_connection_t borrow_ws(sandnet_ws *ws) {
    return sandnet_net_websocket_borrow_connection(ws->own);
}

static sandnet_ws *ws_of(sandnet_net_websocket_own_connection_t own) {
    sandnet_ws *ws = alloc_zeroed(sizeof *ws);
    ws->own = own;
    return ws;
}

sandnet_ws *sandnet_ws_connect(const char *url, const sandnet_ws_options *opts, sandnet_error *err) {
    static const sandnet_ws_options NONE;
    if (opts == NULL) opts = &NONE;
    sandnet_net_websocket_connect_options_t options;
    memset(&options, 0, sizeof options);
    options.headers = borrow_headers(opts->headers, opts->header_count);
    options.subprotocols = borrow_strings(opts->subprotocols, opts->subprotocol_count);
    options.heartbeat_ms = opt_u32(opts->heartbeat_ms);
    options.connect_timeout_ms = opt_u32(opts->connect_timeout_ms);
    if (opts->reconnect_max_attempts > 0) {
        options.reconnect.is_some = true;
        options.reconnect.val.max_attempts = opts->reconnect_max_attempts;
        options.reconnect.val.initial_backoff_ms = opts->reconnect_initial_backoff_ms;
        options.reconnect.val.max_backoff_ms = opts->reconnect_max_backoff_ms;
    }
    script_string_t wit_url = borrow_string(url);
    sandnet_net_websocket_own_connection_t own;
    sandnet_net_websocket_net_error_t raw_err;
    bool ok = sandnet_net_websocket_static_connection_connect(&wit_url, &options, &own, &raw_err);
    free(options.headers.ptr);
    free(options.subprotocols.ptr);
    if (!ok) {
        take_error(&raw_err, err);
        return NULL;
    }
    return ws_of(own);
}

char *sandnet_ws_subprotocol(sandnet_ws *ws) {
    script_string_t raw;
    if (!sandnet_net_websocket_method_connection_subprotocol(borrow_ws(ws), &raw)) return NULL;
    char *out = copy_string(&raw);
    script_string_free(&raw);
    return out;
}

sandnet_ws_state sandnet_ws_state_of(sandnet_ws *ws) {
    return (sandnet_ws_state)sandnet_net_websocket_method_connection_state(borrow_ws(ws));
}

bool sandnet_ws_send_text(sandnet_ws *ws, const char *text, sandnet_error *err) {
    script_string_t wit_text = borrow_string(text);
    sandnet_net_websocket_net_error_t raw_err;
    if (!sandnet_net_websocket_method_connection_send_text(borrow_ws(ws), &wit_text, &raw_err)) {
        take_error(&raw_err, err);
        return false;
    }
    return true;
}

bool sandnet_ws_send_binary(sandnet_ws *ws, const void *data, size_t len, sandnet_error *err) {
    script_list_u8_t bytes = borrow_bytes(data, len);
    sandnet_net_websocket_net_error_t raw_err;
    if (!sandnet_net_websocket_method_connection_send_binary(borrow_ws(ws), &bytes, &raw_err)) {
        take_error(&raw_err, err);
        return false;
    }
    return true;
}

/** Fills `msg` from the generated message and frees the generated one. */
static void take_message(sandnet_net_websocket_message_t *raw, sandnet_ws_message *msg) {
    memset(msg, 0, sizeof *msg);
    switch (raw->tag) {
    case SANDNET_NET_WEBSOCKET_MESSAGE_TEXT:
        msg->kind = SANDNET_WS_TEXT;
        msg->data = (uint8_t *)copy_string(&raw->val.text);
        msg->len = raw->val.text.len;
        break;
    case SANDNET_NET_WEBSOCKET_MESSAGE_BINARY:
        msg->kind = SANDNET_WS_BINARY;
        msg->data = (uint8_t *)copy_bytes(raw->val.binary.ptr, raw->val.binary.len);
        msg->len = raw->val.binary.len;
        break;
    default:
        msg->kind = SANDNET_WS_CLOSE;
        msg->close_code = raw->val.close.code;
        msg->close_reason = copy_string(&raw->val.close.reason);
        break;
    }
    sandnet_net_websocket_message_free(raw);
}

bool sandnet_ws_receive(sandnet_ws *ws, sandnet_ws_message *msg, sandnet_error *err) {
    sandnet_net_websocket_message_t raw;
    sandnet_net_websocket_net_error_t raw_err;
    memset(msg, 0, sizeof *msg);
    if (!sandnet_net_websocket_method_connection_receive(borrow_ws(ws), &raw, &raw_err)) {
        take_error(&raw_err, err);
        return false;
    }
    take_message(&raw, msg);
    return true;
}

bool sandnet_ws_try_receive(sandnet_ws *ws, sandnet_ws_message *msg, bool *got, sandnet_error *err) {
    sandnet_net_websocket_option_message_t raw;
    sandnet_net_websocket_net_error_t raw_err;
    memset(msg, 0, sizeof *msg);
    *got = false;
    if (!sandnet_net_websocket_method_connection_try_receive(borrow_ws(ws), &raw, &raw_err)) {
        take_error(&raw_err, err);
        return false;
    }
    if (raw.is_some) {
        take_message(&raw.val, msg);
        *got = true;
    }
    return true;
}

void sandnet_ws_message_free(sandnet_ws_message *msg) {
    free(msg->data);
    free(msg->close_reason);
    memset(msg, 0, sizeof *msg);
}

bool sandnet_ws_close(sandnet_ws *ws, uint16_t code, const char *reason, sandnet_error *err) {
    script_string_t wit_reason = borrow_string(reason != NULL ? reason : "");
    sandnet_net_websocket_net_error_t raw_err;
    if (!sandnet_net_websocket_method_connection_close(borrow_ws(ws), code, &wit_reason, &raw_err)) {
        take_error(&raw_err, err);
        return false;
    }
    return true;
}

sandnet_pollable sandnet_ws_subscribe(sandnet_ws *ws) {
    return pollable_of(sandnet_net_websocket_method_connection_subscribe(borrow_ws(ws)).__handle);
}

void sandnet_ws_free(sandnet_ws *ws) {
    if (ws == NULL) return;
    sandnet_net_websocket_connection_drop_own(ws->own);
    free(ws);
}

static sandnet_net_websocket_borrow_listener_t borrow_ws_listener(sandnet_ws_listener *l) {
    return sandnet_net_websocket_borrow_listener(l->own);
}

sandnet_ws_listener *sandnet_ws_listen(const char *address, sandnet_error *err) {
    script_string_t wit_address = borrow_string(address);
    sandnet_net_websocket_own_listener_t own;
    sandnet_net_websocket_net_error_t raw_err;
    if (!sandnet_net_websocket_static_listener_bind(&wit_address, &own, &raw_err)) {
        take_error(&raw_err, err);
        return NULL;
    }
    sandnet_ws_listener *l = alloc_zeroed(sizeof *l);
    l->own = own;
    return l;
}

char *sandnet_ws_listener_address(sandnet_ws_listener *l) {
    script_string_t raw;
    sandnet_net_websocket_method_listener_local_address(borrow_ws_listener(l), &raw);
    return take_string(&raw);
}

sandnet_ws *sandnet_ws_accept(sandnet_ws_listener *l, char **peer, sandnet_error *err) {
    sandnet_net_websocket_tuple2_own_connection_string_t raw;
    sandnet_net_websocket_net_error_t raw_err;
    if (!sandnet_net_websocket_method_listener_accept(borrow_ws_listener(l), &raw, &raw_err)) {
        take_error(&raw_err, err);
        return NULL;
    }
    char *address = take_string(&raw.f1);
    if (peer != NULL) {
        *peer = address;
    } else {
        free(address);
    }
    return ws_of(raw.f0);
}

sandnet_pollable sandnet_ws_listener_subscribe(sandnet_ws_listener *l) {
    return pollable_of(sandnet_net_websocket_method_listener_subscribe(borrow_ws_listener(l)).__handle);
}

void sandnet_ws_listener_free(sandnet_ws_listener *l) {
    if (l == NULL) return;
    sandnet_net_websocket_listener_drop_own(l->own);
    free(l);
}

/* ------------------------------------------------------------------------ */
/* Server-Sent Events                                                       */

struct sandnet_sse {
    sandnet_net_sse_own_event_stream_t own;
};

static sandnet_net_sse_borrow_event_stream_t borrow_sse(sandnet_sse *s) {
    return sandnet_net_sse_borrow_event_stream(s->own);
}

sandnet_sse *sandnet_sse_open(const char *url, const sandnet_sse_options *opts, sandnet_error *err) {
    static const sandnet_sse_options NONE;
    if (opts == NULL) opts = &NONE;
    sandnet_net_sse_open_options_t options;
    memset(&options, 0, sizeof options);
    options.headers = borrow_headers(opts->headers, opts->header_count);
    options.event_types = borrow_strings(opts->event_types, opts->event_type_count);
    if (opts->no_reconnect) {
        options.reconnect.is_some = true;
        options.reconnect.val = false;
    }
    options.max_reconnects = opt_u32(opts->max_reconnects);
    options.max_redirects = opt_u32(opts->max_redirects);
    script_string_t wit_url = borrow_string(url);
    sandnet_net_sse_own_event_stream_t own;
    sandnet_net_sse_net_error_t raw_err;
    bool ok = sandnet_net_sse_static_event_stream_open(&wit_url, &options, &own, &raw_err);
    free(options.headers.ptr);
    free(options.event_types.ptr);
    if (!ok) {
        take_error(&raw_err, err);
        return NULL;
    }
    sandnet_sse *s = alloc_zeroed(sizeof *s);
    s->own = own;
    return s;
}

/** Fills `ev` from the generated event and frees the generated one. */
static void take_event(sandnet_net_sse_event_t *raw, sandnet_sse_event *ev) {
    ev->type = copy_string(&raw->event_type);
    ev->data = copy_string(&raw->data);
    ev->id = raw->id.is_some ? copy_string(&raw->id.val) : NULL;
    sandnet_net_sse_event_free(raw);
}

bool sandnet_sse_next(sandnet_sse *s, sandnet_sse_event *ev, sandnet_error *err) {
    sandnet_net_sse_event_t raw;
    sandnet_net_sse_net_error_t raw_err;
    memset(ev, 0, sizeof *ev);
    if (!sandnet_net_sse_method_event_stream_next(borrow_sse(s), &raw, &raw_err)) {
        take_error(&raw_err, err);
        return false;
    }
    take_event(&raw, ev);
    return true;
}

bool sandnet_sse_try_next(sandnet_sse *s, sandnet_sse_event *ev, bool *got, sandnet_error *err) {
    sandnet_net_sse_option_event_t raw;
    sandnet_net_sse_net_error_t raw_err;
    memset(ev, 0, sizeof *ev);
    *got = false;
    if (!sandnet_net_sse_method_event_stream_try_next(borrow_sse(s), &raw, &raw_err)) {
        take_error(&raw_err, err);
        return false;
    }
    if (raw.is_some) {
        take_event(&raw.val, ev);
        *got = true;
    }
    return true;
}

void sandnet_sse_event_free(sandnet_sse_event *ev) {
    free(ev->type);
    free(ev->data);
    free(ev->id);
    memset(ev, 0, sizeof *ev);
}

sandnet_pollable sandnet_sse_subscribe(sandnet_sse *s) {
    return pollable_of(sandnet_net_sse_method_event_stream_subscribe(borrow_sse(s)).__handle);
}

void sandnet_sse_close(sandnet_sse *s) {
    if (s == NULL) return;
    sandnet_net_sse_event_stream_drop_own(s->own);
    free(s);
}

/* ------------------------------------------------------------------------ */
/* TCP                                                                      */

struct sandnet_tcp_stream {
    sandnet_net_tcp_own_stream_t own;
};

struct sandnet_tcp_listener {
    sandnet_net_tcp_own_listener_t own;
};

static sandnet_net_tcp_borrow_stream_t borrow_stream(sandnet_tcp_stream *s) {
    return sandnet_net_tcp_borrow_stream(s->own);
}

static sandnet_tcp_stream *stream_of(sandnet_net_tcp_own_stream_t own) {
    sandnet_tcp_stream *s = alloc_zeroed(sizeof *s);
    s->own = own;
    return s;
}

sandnet_tcp_stream *sandnet_tcp_connect(const char *url, sandnet_error *err) {
    script_string_t wit_url = borrow_string(url);
    sandnet_net_tcp_own_stream_t own;
    sandnet_net_tcp_net_error_t raw_err;
    if (!sandnet_net_tcp_static_stream_connect(&wit_url, NULL, &own, &raw_err)) {
        take_error(&raw_err, err);
        return NULL;
    }
    return stream_of(own);
}

bool sandnet_tcp_read(sandnet_tcp_stream *s, void *buf, size_t cap, size_t *len, sandnet_error *err) {
    script_list_u8_t data;
    sandnet_net_tcp_net_error_t raw_err;
    if (!sandnet_net_tcp_method_stream_read(borrow_stream(s), max_bytes(cap), &data, &raw_err)) {
        take_error(&raw_err, err);
        return false;
    }
    size_t n = data.len < cap ? data.len : cap; /* the host never sends more than max */
    if (n > 0) memcpy(buf, data.ptr, n);
    *len = n;
    script_list_u8_free(&data);
    return true;
}

bool sandnet_tcp_read_until(sandnet_tcp_stream *s, const void *delim, size_t delim_len, size_t max,
                            uint8_t **out, size_t *len, sandnet_error *err) {
    script_list_u8_t wit_delim = borrow_bytes(delim, delim_len);
    script_list_u8_t data;
    sandnet_net_tcp_net_error_t raw_err;
    *out = NULL;
    *len = 0;
    if (!sandnet_net_tcp_method_stream_read_until(borrow_stream(s), &wit_delim, max_bytes(max), &data,
                                                  &raw_err)) {
        take_error(&raw_err, err);
        return false;
    }
    *out = (uint8_t *)copy_bytes(data.ptr, data.len);
    *len = data.len;
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
    return take_string(&raw);
}

char *sandnet_tcp_local_address(sandnet_tcp_stream *s) {
    script_string_t raw;
    sandnet_net_tcp_method_stream_local_address(borrow_stream(s), &raw);
    return take_string(&raw);
}

sandnet_pollable sandnet_tcp_subscribe(sandnet_tcp_stream *s) {
    return pollable_of(sandnet_net_tcp_method_stream_subscribe(borrow_stream(s)).__handle);
}

void sandnet_tcp_close(sandnet_tcp_stream *s) {
    if (s == NULL) return;
    sandnet_net_tcp_stream_drop_own(s->own);
    free(s);
}

static sandnet_net_tcp_borrow_listener_t borrow_tcp_listener(sandnet_tcp_listener *l) {
    return sandnet_net_tcp_borrow_listener(l->own);
}

sandnet_tcp_listener *sandnet_tcp_listen(const char *address, sandnet_error *err) {
    script_string_t wit_address = borrow_string(address);
    sandnet_net_tcp_own_listener_t own;
    sandnet_net_tcp_net_error_t raw_err;
    if (!sandnet_net_tcp_static_listener_bind(&wit_address, &own, &raw_err)) {
        take_error(&raw_err, err);
        return NULL;
    }
    sandnet_tcp_listener *l = alloc_zeroed(sizeof *l);
    l->own = own;
    return l;
}

char *sandnet_tcp_listener_address(sandnet_tcp_listener *l) {
    script_string_t raw;
    sandnet_net_tcp_method_listener_local_address(borrow_tcp_listener(l), &raw);
    return take_string(&raw);
}

sandnet_tcp_stream *sandnet_tcp_accept(sandnet_tcp_listener *l, sandnet_error *err) {
    sandnet_net_tcp_own_stream_t own;
    sandnet_net_tcp_net_error_t raw_err;
    if (!sandnet_net_tcp_method_listener_accept(borrow_tcp_listener(l), &own, &raw_err)) {
        take_error(&raw_err, err);
        return NULL;
    }
    return stream_of(own);
}

sandnet_pollable sandnet_tcp_listener_subscribe(sandnet_tcp_listener *l) {
    return pollable_of(sandnet_net_tcp_method_listener_subscribe(borrow_tcp_listener(l)).__handle);
}

void sandnet_tcp_listener_close(sandnet_tcp_listener *l) {
    if (l == NULL) return;
    sandnet_net_tcp_listener_drop_own(l->own);
    free(l);
}

/* ------------------------------------------------------------------------ */
/* UDP                                                                      */

struct sandnet_udp_socket {
    sandnet_net_udp_own_socket_t own;
};

static sandnet_net_udp_borrow_socket_t borrow_socket(sandnet_udp_socket *s) {
    return sandnet_net_udp_borrow_socket(s->own);
}

sandnet_udp_socket *sandnet_udp_bind(const char *address, sandnet_error *err) {
    script_string_t wit_address = borrow_string(address != NULL ? address : "");
    sandnet_net_udp_own_socket_t own;
    sandnet_net_udp_net_error_t raw_err;
    if (!sandnet_net_udp_static_socket_bind(address != NULL ? &wit_address : NULL, &own, &raw_err)) {
        take_error(&raw_err, err);
        return NULL;
    }
    sandnet_udp_socket *s = alloc_zeroed(sizeof *s);
    s->own = own;
    return s;
}

char *sandnet_udp_local_address(sandnet_udp_socket *s) {
    script_string_t raw;
    sandnet_net_udp_method_socket_local_address(borrow_socket(s), &raw);
    return take_string(&raw);
}

bool sandnet_udp_send_to(sandnet_udp_socket *s, const char *target, const void *data, size_t len,
                         sandnet_error *err) {
    script_string_t wit_target = borrow_string(target);
    script_list_u8_t bytes = borrow_bytes(data, len);
    sandnet_net_udp_net_error_t raw_err;
    if (!sandnet_net_udp_method_socket_send_to(borrow_socket(s), &wit_target, &bytes, &raw_err)) {
        take_error(&raw_err, err);
        return false;
    }
    return true;
}

bool sandnet_udp_receive(sandnet_udp_socket *s, uint32_t timeout_ms, sandnet_datagram *d,
                         sandnet_error *err) {
    sandnet_net_udp_datagram_t raw;
    sandnet_net_udp_net_error_t raw_err;
    memset(d, 0, sizeof *d);
    if (!sandnet_net_udp_method_socket_receive(borrow_socket(s), timeout_ms != 0 ? &timeout_ms : NULL,
                                               &raw, &raw_err)) {
        take_error(&raw_err, err);
        return false;
    }
    d->data = (uint8_t *)copy_bytes(raw.data.ptr, raw.data.len);
    d->len = raw.data.len;
    d->sender = copy_string(&raw.sender);
    sandnet_net_udp_datagram_free(&raw);
    return true;
}

void sandnet_datagram_free(sandnet_datagram *d) {
    free(d->data);
    free(d->sender);
    memset(d, 0, sizeof *d);
}

/** join-multicast or leave-multicast, which take the same arguments. */
static bool multicast(bool join, sandnet_udp_socket *s, const char *group, const char *iface,
                      sandnet_error *err) {
    script_string_t wit_group = borrow_string(group);
    script_string_t wit_iface = borrow_string(iface != NULL ? iface : "");
    script_string_t *maybe_iface = iface != NULL ? &wit_iface : NULL;
    sandnet_net_udp_net_error_t raw_err;
    bool ok = join ? sandnet_net_udp_method_socket_join_multicast(borrow_socket(s), &wit_group,
                                                                  maybe_iface, &raw_err)
                   : sandnet_net_udp_method_socket_leave_multicast(borrow_socket(s), &wit_group,
                                                                   maybe_iface, &raw_err);
    if (!ok) take_error(&raw_err, err);
    return ok;
}

bool sandnet_udp_join_multicast(sandnet_udp_socket *s, const char *group, const char *iface,
                                sandnet_error *err) {
    return multicast(true, s, group, iface, err);
}

bool sandnet_udp_leave_multicast(sandnet_udp_socket *s, const char *group, const char *iface,
                                 sandnet_error *err) {
    return multicast(false, s, group, iface, err);
}

bool sandnet_udp_set_broadcast(sandnet_udp_socket *s, bool enabled, sandnet_error *err) {
    sandnet_net_udp_net_error_t raw_err;
    if (!sandnet_net_udp_method_socket_set_broadcast(borrow_socket(s), enabled, &raw_err)) {
        take_error(&raw_err, err);
        return false;
    }
    return true;
}

sandnet_pollable sandnet_udp_subscribe(sandnet_udp_socket *s) {
    return pollable_of(sandnet_net_udp_method_socket_subscribe(borrow_socket(s)).__handle);
}

void sandnet_udp_close(sandnet_udp_socket *s) {
    if (s == NULL) return;
    sandnet_net_udp_socket_drop_own(s->own);
    free(s);
}

/* ------------------------------------------------------------------------ */
/* Waiting                                                                  */

sandnet_pollable sandnet_timer(uint64_t ms) {
    return pollable_of(wasi_clocks_monotonic_clock_subscribe_duration(ms * 1000000u).__handle);
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

void sandnet_sleep_ms(uint64_t ms) {
    sandnet_pollable timer = sandnet_timer(ms);
    size_t index;
    sandnet_poll(&timer, 1, &index);
    sandnet_pollable_drop(timer);
}

/* ------------------------------------------------------------------------ */
/* HTTP: resumable upload (tus 1.0)                                         */

/** Largest piece of a PATCH body handed to the host per write. */
#define TUS_PIECE ((size_t)64 * 1024)
/** Defaults of sandnet_tus_options' zero fields. */
#define TUS_DEFAULT_CHUNK ((size_t)4 * 1024 * 1024)
#define TUS_DEFAULT_RESUMES 5u

/** Fills `err` with kind `kind` and a formatted reason; returns false. */
static bool fail_with(sandnet_error *err, sandnet_error_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static bool fail_with(sandnet_error *err, sandnet_error_kind kind, const char *fmt, ...) {
    memset(err, 0, sizeof *err);
    err->kind = kind;
    va_list args;
    va_start(args, fmt);
    int len = vsnprintf(NULL, 0, fmt, args);
    va_end(args);
    err->reason = malloc(len > 0 ? (size_t)len + 1 : 1);
    if (err->reason == NULL) abort();
    va_start(args, fmt);
    vsnprintf(err->reason, len > 0 ? (size_t)len + 1 : 1, fmt, args);
    va_end(args);
    return false;
}

/** The numeric header `name` of a response that answered `status`. */
static bool tus_number(uint16_t status, const char *value, const char *name, uint64_t *out,
                       sandnet_error *err) {
    while (value != NULL && (*value == ' ' || *value == '\t')) value++;
    size_t digits = value == NULL ? 0 : strspn(value, "0123456789");
    bool ok = digits > 0 && digits <= 19 && value[digits + strspn(value + digits, " \t")] == '\0';
    if (!ok) {
        return fail_with(err, SANDNET_ERR_PROTOCOL, "tus server answered %u without a numeric %s",
                         status, name);
    }
    *out = strtoull(value, NULL, 10);
    return true;
}

/** `location` (absolute, or a path) resolved against `base`'s origin; malloc'd. */
static char *tus_resolve(const char *base, const char *location) {
    if (strstr(location, "://") != NULL) return copy_bytes((const uint8_t *)location, strlen(location));
    const char *scheme_end = strstr(base, "://");
    const char *path = scheme_end == NULL ? NULL : strchr(scheme_end + 3, '/');
    size_t origin_len = path == NULL ? strlen(base) : (size_t)(path - base);
    size_t len = origin_len + strlen(location);
    char *out = malloc(len + 1);
    if (out == NULL) abort();
    memcpy(out, base, origin_len);
    strcpy(out + origin_len, location);
    return out;
}

/** A request with no body and the Tus-Resumable header (plus `extra`). */
static sandnet_response tus_request(const char *method, const char *url, const char *extra_name,
                                    const char *extra_value, bool *ok, sandnet_error *err) {
    sandnet_header headers[] = {{"tus-resumable", SANDNET_TUS_VERSION}, {extra_name, extra_value}};
    sandnet_request req;
    memset(&req, 0, sizeof req);
    req.method = method;
    req.url = url;
    req.headers = headers;
    req.header_count = extra_name == NULL ? 1 : 2;
    sandnet_response resp;
    *ok = sandnet_http_fetch(&req, &resp, err);
    return resp;
}

char *sandnet_tus_create(const char *create_url, uint64_t length, sandnet_error *err) {
    char length_text[24];
    snprintf(length_text, sizeof length_text, "%llu", (unsigned long long)length);
    bool ok;
    sandnet_response resp = tus_request("POST", create_url, "upload-length", length_text, &ok, err);
    if (!ok) return NULL;
    char *url = NULL;
    const char *location = sandnet_response_header(&resp, "location");
    if (resp.status != 201) {
        fail_with(err, SANDNET_ERR_PROTOCOL, "tus creation at %s answered %u, expected 201",
                  create_url, resp.status);
    } else if (location == NULL) {
        fail_with(err, SANDNET_ERR_PROTOCOL, "tus creation at %s gave no Location", create_url);
    } else {
        url = tus_resolve(create_url, location);
    }
    sandnet_response_free(&resp);
    return url;
}

bool sandnet_tus_offset(const char *upload_url, uint64_t *offset, sandnet_error *err) {
    bool ok;
    sandnet_response resp = tus_request("HEAD", upload_url, NULL, NULL, &ok, err);
    if (!ok) return false;
    if (resp.status < 200 || resp.status >= 300) {
        ok = fail_with(err, SANDNET_ERR_PROTOCOL,
                       "tus upload %s answered HEAD with %u (gone, or not a tus upload)",
                       upload_url, resp.status);
    } else {
        ok = tus_number(resp.status, sandnet_response_header(&resp, "upload-offset"),
                        "Upload-Offset", offset, err);
    }
    sandnet_response_free(&resp);
    return ok;
}

/** The server's offset of the upload at `upload_url` (HEAD), which must lie
 *  within the `total` bytes of the data: a server claiming bytes the client
 *  never had has lost or mixed up the upload, so this is a protocol error,
 *  never a finished upload. */
static bool tus_offset_within(const char *upload_url, uint64_t total, uint64_t *offset,
                              sandnet_error *err) {
    uint64_t reported;
    if (!sandnet_tus_offset(upload_url, &reported, err)) return false;
    if (reported > total) {
        return fail_with(err, SANDNET_ERR_PROTOCOL, "tus server reports offset %llu past the %llu bytes",
                         (unsigned long long)reported, (unsigned long long)total);
    }
    *offset = reported;
    return true;
}

bool sandnet_tus_terminate(const char *upload_url, sandnet_error *err) {
    bool ok;
    sandnet_response resp = tus_request("DELETE", upload_url, NULL, NULL, &ok, err);
    if (!ok) return false;
    if (resp.status < 200 || resp.status >= 300) {
        ok = fail_with(err, SANDNET_ERR_PROTOCOL, "tus termination of %s answered %u, expected 204",
                       upload_url, resp.status);
    }
    sandnet_response_free(&resp);
    return ok;
}

/** Streams bytes `at` to `end` of `data` as one PATCH; sets `*confirmed` to
 *  the offset the server then holds, which must be past `at`. */
static bool tus_patch(const char *url, const uint8_t *data, uint64_t at, uint64_t end,
                      uint64_t total, uint64_t *confirmed, sandnet_error *err) {
    char at_text[24];
    snprintf(at_text, sizeof at_text, "%llu", (unsigned long long)at);
    sandnet_header headers[] = {
        {"tus-resumable", SANDNET_TUS_VERSION},
        {"upload-offset", at_text},
        {"content-type", "application/offset+octet-stream"},
    };
    sandnet_request req;
    memset(&req, 0, sizeof req);
    req.method = "PATCH";
    req.url = url;
    req.headers = headers;
    req.header_count = sizeof headers / sizeof headers[0];
    sandnet_http_upload *up = sandnet_http_upload_start(&req, end - at, err);
    if (up == NULL) return false;
    for (uint64_t from = at; from < end; from += TUS_PIECE) {
        size_t n = end - from < TUS_PIECE ? (size_t)(end - from) : TUS_PIECE;
        if (!sandnet_http_upload_write(up, data + from, n, err)) {
            sandnet_http_upload_free(up);
            return false;
        }
    }
    sandnet_http_pending *pending = sandnet_http_upload_finish(up, err);
    if (pending == NULL) return false;
    sandnet_http_incoming *in = sandnet_http_pending_wait(pending, err);
    if (in == NULL) return false;
    uint16_t status = sandnet_http_incoming_status(in);
    uint64_t offset = 0;
    bool ok;
    if (status != 204) {
        ok = fail_with(err, SANDNET_ERR_PROTOCOL, "tus PATCH at offset %llu answered %u, expected 204",
                       (unsigned long long)at, status);
    } else {
        ok = tus_number(status, sandnet_http_incoming_header(in, "upload-offset"), "Upload-Offset",
                        &offset, err);
        if (ok && (offset <= at || offset > total)) {
            ok = fail_with(err, SANDNET_ERR_PROTOCOL,
                           "tus PATCH at offset %llu answered Upload-Offset %llu (expected more than "
                           "%llu, at most %llu)",
                           (unsigned long long)at, (unsigned long long)offset,
                           (unsigned long long)at, (unsigned long long)total);
        }
    }
    sandnet_http_incoming_free(in);
    if (ok) *confirmed = offset;
    return ok;
}

/** Whether a failed PATCH is worth resuming: the connection or the server
 *  failed, not the policy, a limit or the request itself. */
static bool tus_resumable(sandnet_error_kind kind) {
    return kind != SANDNET_ERR_DENIED && kind != SANDNET_ERR_LIMIT_EXCEEDED &&
           kind != SANDNET_ERR_INVALID_ARGUMENT;
}

bool sandnet_tus_resume(const char *upload_url, const void *data, size_t len,
                        const sandnet_tus_options *opts, sandnet_tus_result *out, sandnet_error *err) {
    memset(out, 0, sizeof *out);
    sandnet_tus_options o;
    memset(&o, 0, sizeof o);
    if (opts != NULL) o = *opts;
    uint64_t chunk = o.chunk_bytes != 0 ? o.chunk_bytes : TUS_DEFAULT_CHUNK;
    uint32_t max_resumes = o.no_resumes ? 0 : o.max_resumes != 0 ? o.max_resumes : TUS_DEFAULT_RESUMES;
    uint64_t total = len, offset;
    if (!tus_offset_within(upload_url, total, &offset, err)) return false;
    uint32_t resumes = 0;
    sandnet_tus_state state = SANDNET_TUS_DONE;
    while (offset < total) {
        uint64_t end = total - offset > chunk ? offset + chunk : total;
        if (!tus_patch(upload_url, (const uint8_t *)data, offset, end, total, &offset, err)) {
            if (!tus_resumable(err->kind) || resumes >= max_resumes) return false;
            sandnet_error_free(err);
            resumes++;
            if (!tus_offset_within(upload_url, total, &offset, err)) return false;
        }
        if (o.on_progress == NULL) continue;
        sandnet_progress progress = {offset, total};
        sandnet_tus_control asked = o.on_progress(progress, o.ctx);
        if (asked == SANDNET_TUS_CANCEL) {
            if (!sandnet_tus_terminate(upload_url, err)) return false;
            state = SANDNET_TUS_CANCELLED;
            break;
        }
        if (asked == SANDNET_TUS_PAUSE && offset < total) {
            state = SANDNET_TUS_PAUSED;
            break;
        }
        if (asked != SANDNET_TUS_CONTINUE && asked != SANDNET_TUS_PAUSE) {
            return fail_with(err, SANDNET_ERR_INVALID_ARGUMENT,
                             "tus on_progress returned %d; return SANDNET_TUS_CONTINUE, "
                             "SANDNET_TUS_PAUSE or SANDNET_TUS_CANCEL",
                             (int)asked);
        }
    }
    out->state = state;
    out->url = copy_bytes((const uint8_t *)upload_url, strlen(upload_url));
    out->offset = offset;
    out->resumes = resumes;
    return true;
}

bool sandnet_tus_start(const char *create_url, const void *data, size_t len,
                       const sandnet_tus_options *opts, sandnet_tus_result *out, sandnet_error *err) {
    memset(out, 0, sizeof *out);
    char *url = sandnet_tus_create(create_url, len, err);
    if (url == NULL) return false;
    bool ok = sandnet_tus_resume(url, data, len, opts, out, err);
    free(url);
    return ok;
}

void sandnet_tus_result_free(sandnet_tus_result *r) {
    free(r->url);
    memset(r, 0, sizeof *r);
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
