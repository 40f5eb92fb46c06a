/*
 * conformance CASE TARGET: one case of the cross-language guest conformance
 * suite (tests/it/conformance.rs), written with sandnet.h as a C user would.
 * Every language's conformance guest prints the same lines for a case; the
 * cases are listed in the test module. Exits 1 on an unexpected net-error
 * (printed to stderr) and 2 on bad usage or an unknown case.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sandnet.h"

enum { EXIT_FAILED = 1, EXIT_USAGE = 2 };

/** Reports an unexpected error and ends the run with EXIT_FAILED. */
static _Noreturn void fail(sandnet_error *err) {
    sandnet_error_print(err, "conformance", stderr);
    sandnet_error_free(err);
    sandnet_exit(EXIT_FAILED);
}

/*
 * The value of top-level field `name` in a flat JSON object, as text: a
 * string's characters (escapes kept as written), or a number's digits.
 * Enough for the test server's fixed answers; NULL when absent. Malloc'd.
 */
static char *json_field(const char *body, const char *name) {
    size_t name_len = strlen(name);
    for (const char *at = strchr(body, '"'); at != NULL; at = strchr(at + 1, '"')) {
        if (strncmp(at + 1, name, name_len) != 0 || at[1 + name_len] != '"') continue;
        const char *value = at + 2 + name_len;
        value += strspn(value, " \t\r\n");
        if (*value != ':') continue;
        value += 1 + strspn(value + 1, " \t\r\n");
        size_t len;
        if (*value == '"') {
            value++;
            for (len = 0; value[len] != '\0' && value[len] != '"'; len++) {
                if (value[len] == '\\' && value[len + 1] != '\0') len++;
            }
        } else {
            len = strcspn(value, ",} \t\r\n");
        }
        char *out = malloc(len + 1);
        if (out == NULL) abort();
        memcpy(out, value, len);
        out[len] = '\0';
        return out;
    }
    return NULL;
}

/** Fetches `req`; fails the run on a net-error. */
static void fetch(const sandnet_request *req, sandnet_response *resp) {
    sandnet_error err;
    if (!sandnet_http_fetch(req, resp, &err)) fail(&err);
}

/** Prints the status and the fields `a` and `b` of a JSON response body. */
static void print_fields(const sandnet_response *resp, const char *a, const char *b) {
    char *first = json_field((const char *)resp->body, a);
    char *second = json_field((const char *)resp->body, b);
    printf("%u %s %s\n", resp->status, first ? first : "null", second ? second : "null");
    free(first);
    free(second);
}

static void get_json(const char *target) {
    sandnet_header accept = {"accept", "application/json"};
    sandnet_request req = {.url = target, .headers = &accept, .header_count = 1};
    sandnet_response resp;
    fetch(&req, &resp);
    print_fields(&resp, "hello", "n");
    sandnet_response_free(&resp);
}

static void post_json(const char *target) {
    static const char BODY[] = "{\"n\": 41}";
    sandnet_header type = {"content-type", "application/json"};
    sandnet_request req = {.method = "POST", .url = target, .headers = &type, .header_count = 1,
                           .body = BODY, .body_len = sizeof BODY - 1};
    sandnet_response resp;
    fetch(&req, &resp);
    print_fields(&resp, "n", "content_type");
    sandnet_response_free(&resp);
}

static void headers(const char *target) {
    sandnet_header mine = {"X-Conformance", "yes"};
    sandnet_request req = {.url = target, .headers = &mine, .header_count = 1};
    sandnet_response resp;
    fetch(&req, &resp);
    const char *reflected = sandnet_response_header(&resp, "X-Reflected");
    printf("%u %s\n", resp.status, reflected ? reflected : "-");
    sandnet_response_free(&resp);
}

static void denied(const char *target) {
    sandnet_response resp;
    sandnet_error err;
    if (sandnet_http_get(target, &resp, &err)) {
        printf("allowed\n");
        sandnet_response_free(&resp);
        return;
    }
    if (err.kind != SANDNET_ERR_DENIED) fail(&err);
    printf("denied %s\n", err.suggestion ? err.suggestion : "");
    sandnet_error_free(&err);
}

static void timeout(const char *target) {
    sandnet_request req = {.url = target, .options = {.timeout_ms = 300}};
    sandnet_response resp;
    sandnet_error err;
    if (sandnet_http_fetch(&req, &resp, &err)) {
        printf("answered\n");
        sandnet_response_free(&resp);
        return;
    }
    if (err.kind != SANDNET_ERR_TIMEOUT) fail(&err);
    printf("timeout\n");
    sandnet_error_free(&err);
}

static void download(const char *target) {
    sandnet_request req = {.url = target};
    sandnet_error err;
    sandnet_http_pending *pending = sandnet_http_send(&req, &err);
    if (pending == NULL) fail(&err);
    sandnet_http_incoming *in = sandnet_http_pending_wait(pending, &err);
    if (in == NULL) fail(&err);
    static uint8_t chunk[64 * 1024];
    size_t size = 0, len;
    do {
        if (!sandnet_http_incoming_read(in, chunk, sizeof chunk, &len, &err)) fail(&err);
        size += len;
    } while (len > 0);
    printf("%u %zu\n", sandnet_http_incoming_status(in), size);
    sandnet_http_incoming_free(in);
}

static void upload(const char *target) {
    enum { TOTAL = 1000000, CHUNK = 64 * 1024 };
    static uint8_t chunk[CHUNK];
    memset(chunk, 'u', sizeof chunk);
    sandnet_request req = {.method = "POST", .url = target};
    sandnet_error err;
    sandnet_http_upload *up = sandnet_http_upload_start(&req, TOTAL, &err);
    if (up == NULL) fail(&err);
    /* Progress counts bytes the connection took; it trails the writes. */
    bool steady = true;
    uint64_t last = 0;
    for (size_t sent = 0; sent < TOTAL; sent += CHUNK) {
        size_t n = TOTAL - sent < CHUNK ? TOTAL - sent : CHUNK;
        if (!sandnet_http_upload_write(up, chunk, n, &err)) fail(&err);
        sandnet_progress p = sandnet_http_upload_progress(up);
        steady = steady && p.sent >= last && p.sent <= TOTAL;
        last = p.sent;
    }
    printf(steady ? "progress ok\n" : "progress bad\n");
    sandnet_http_pending *pending = sandnet_http_upload_finish(up, &err);
    if (pending == NULL) fail(&err);
    sandnet_http_incoming *in = sandnet_http_pending_wait(pending, &err);
    if (in == NULL) fail(&err);
    char body[64];
    size_t used = 0, len;
    do {
        if (!sandnet_http_incoming_read(in, body + used, sizeof body - 1 - used, &len, &err)) fail(&err);
        used += len;
    } while (len > 0 && used < sizeof body - 1);
    printf("%u %.*s\n", sandnet_http_incoming_status(in), (int)used, body);
    sandnet_http_incoming_free(in);
}

/** Receives until the peer's close and prints "close CODE REASON". */
static void print_close(sandnet_ws *ws) {
    sandnet_ws_message msg;
    sandnet_error err;
    for (;;) {
        if (!sandnet_ws_receive(ws, &msg, &err)) fail(&err);
        bool closed = msg.kind == SANDNET_WS_CLOSE;
        if (closed) printf("close %u %s\n", msg.close_code, msg.close_reason);
        sandnet_ws_message_free(&msg);
        if (closed) return;
    }
}

static sandnet_ws *ws_connect(const char *target) {
    sandnet_error err;
    sandnet_ws *ws = sandnet_ws_connect(target, NULL, &err);
    if (ws == NULL) fail(&err);
    return ws;
}

static void ws_echo(const char *target) {
    sandnet_ws *ws = ws_connect(target);
    sandnet_error err;
    if (!sandnet_ws_send_text(ws, "ping", &err)) fail(&err);
    sandnet_ws_message msg;
    if (!sandnet_ws_receive(ws, &msg, &err)) fail(&err);
    if (msg.kind == SANDNET_WS_TEXT) printf("%s\n", (const char *)msg.data);
    sandnet_ws_message_free(&msg);
    if (!sandnet_ws_send_text(ws, "close-me", &err)) fail(&err);
    print_close(ws);
    sandnet_ws_free(ws);
}

static void ws_close_first(const char *target) {
    sandnet_ws *ws = ws_connect(target);
    print_close(ws);
    sandnet_ws_free(ws);
}

static void ws_send_after_close(const char *target) {
    sandnet_ws *ws = ws_connect(target);
    sandnet_sleep_ms(300); /* the peer's close arrives before our first send */
    sandnet_error err;
    if (sandnet_ws_send_text(ws, "too late", &err)) {
        printf("sent\n");
    } else {
        if (err.kind != SANDNET_ERR_CLOSED) fail(&err);
        sandnet_error_free(&err);
        print_close(ws);
    }
    sandnet_ws_free(ws);
}

static void sse(const char *target) {
    sandnet_error err;
    sandnet_sse *stream = sandnet_sse_open(target, NULL, &err);
    if (stream == NULL) fail(&err);
    sandnet_sse_event ev;
    while (sandnet_sse_next(stream, &ev, &err)) {
        printf("%s %s\n", ev.id ? ev.id : "", ev.data);
        sandnet_sse_event_free(&ev);
    }
    if (err.kind != SANDNET_ERR_CLOSED) fail(&err); /* closed: the stream ended */
    sandnet_error_free(&err);
    sandnet_sse_close(stream);
}

static void tcp_echo(const char *target) {
    sandnet_error err;
    sandnet_tcp_stream *conn = sandnet_tcp_connect(target, &err);
    if (conn == NULL) fail(&err);
    if (!sandnet_tcp_write(conn, "hello\n", 6, &err)) fail(&err);
    uint8_t *line;
    size_t len;
    if (!sandnet_tcp_read_until(conn, "\n", 1, 1024, &line, &len, &err)) fail(&err);
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) len--;
    printf("%.*s\n", (int)len, (const char *)line);
    free(line);
    sandnet_tcp_close(conn);
}

static void udp_echo(const char *target) {
    sandnet_error err;
    sandnet_udp_socket *sock = sandnet_udp_bind(NULL, &err);
    if (sock == NULL) fail(&err);
    if (!sandnet_udp_send_to(sock, target, "ping", 4, &err)) fail(&err);
    sandnet_datagram d;
    if (!sandnet_udp_receive(sock, 5000, &d, &err)) fail(&err);
    printf("%.*s\n", (int)d.len, (const char *)d.data);
    sandnet_datagram_free(&d);
    sandnet_udp_close(sock);
}

/** Two requests in flight at once: send both, then poll both until each
 *  has its answer (the server answers only when both are waiting). */
static void concurrent(const char *target) {
    sandnet_request req = {.url = target, .options = {.timeout_ms = 5000}};
    sandnet_error err;
    sandnet_http_pending *pending[2];
    sandnet_http_incoming *answers[2] = {NULL, NULL};
    bool done[2] = {false, false};
    for (size_t i = 0; i < 2; i++) {
        pending[i] = sandnet_http_send(&req, &err);
        if (pending[i] == NULL) fail(&err);
    }
    while (!done[0] || !done[1]) {
        sandnet_pollable waits[2];
        size_t owner[2], n = 0, ready[2];
        for (size_t i = 0; i < 2; i++) {
            if (done[i]) continue;
            waits[n] = sandnet_http_pending_subscribe(pending[i]);
            owner[n++] = i;
        }
        size_t count = sandnet_poll(waits, n, ready);
        for (size_t r = 0; r < count; r++) {
            size_t i = owner[ready[r]];
            if (!sandnet_http_pending_try(pending[i], &answers[i], &err)) continue;
            if (answers[i] == NULL) fail(&err);
            done[i] = true;
        }
        for (size_t k = 0; k < n; k++) sandnet_pollable_drop(waits[k]);
    }
    printf("%u %u\n", sandnet_http_incoming_status(answers[0]),
           sandnet_http_incoming_status(answers[1]));
    for (size_t i = 0; i < 2; i++) {
        sandnet_http_incoming_free(answers[i]);
        sandnet_http_pending_free(pending[i]);
    }
}

/** tus callbacks: stop at the first confirmed chunk. */
static sandnet_tus_control pause_at_once(sandnet_progress progress, void *ctx) {
    (void)progress;
    (void)ctx;
    return SANDNET_TUS_PAUSE;
}

static sandnet_tus_control cancel_at_once(sandnet_progress progress, void *ctx) {
    (void)progress;
    (void)ctx;
    return SANDNET_TUS_CANCEL;
}

/** The state of a tus outcome as the conformance lines name it. */
static const char *tus_state(const sandnet_tus_result *r) {
    return r->state == SANDNET_TUS_DONE ? "done" : r->state == SANDNET_TUS_PAUSED ? "paused" : "cancelled";
}

/** The size of the tus cases' upload. */
enum { TUS_SIZE = 1000000 };

/* The tus cases' data (byte i is i % 251) and options (256 KiB chunks, no
 * callback); starts an upload of it at `create_url` paused after its first
 * confirmed chunk into `paused` and prints `paused OFFSET`. Returns the data. */
static const uint8_t *tus_start_paused(const char *create_url, sandnet_tus_options *opts,
                                       sandnet_tus_result *paused) {
    static uint8_t data[TUS_SIZE];
    for (size_t i = 0; i < TUS_SIZE; i++) data[i] = (uint8_t)(i % 251);
    memset(opts, 0, sizeof *opts);
    opts->chunk_bytes = 256 * 1024;
    opts->on_progress = pause_at_once;
    sandnet_error err;
    if (!sandnet_tus_start(create_url, data, TUS_SIZE, opts, paused, &err)) fail(&err);
    printf("%s %llu\n", tus_state(paused), (unsigned long long)paused->offset);
    opts->on_progress = NULL;
    return data;
}

/* 1 MB (byte i is i % 251) in 256 KiB chunks to the creation URL: pause after
 * the first confirmed chunk, resume from the upload's URL, then start a
 * second upload and cancel it after its first chunk. */
static void tus(const char *create_url) {
    sandnet_tus_options opts;
    sandnet_tus_result paused, done, cancelled;
    const uint8_t *data = tus_start_paused(create_url, &opts, &paused);
    sandnet_error err;
    if (!sandnet_tus_resume(paused.url, data, TUS_SIZE, &opts, &done, &err)) fail(&err);
    printf("%s %s resumes=%u\n", tus_state(&done), done.url, done.resumes);
    opts.on_progress = cancel_at_once;
    if (!sandnet_tus_start(create_url, data, TUS_SIZE, &opts, &cancelled, &err)) fail(&err);
    printf("%s\n", tus_state(&cancelled));
    sandnet_tus_result_free(&paused);
    sandnet_tus_result_free(&done);
    sandnet_tus_result_free(&cancelled);
}

/* Prints how a tus step against a lying server ended: the error it must
 * fail with, or the state it wrongly reached. */
static void print_refusal(const char *step, bool ok, sandnet_tus_result *r, sandnet_error *err) {
    if (ok) {
        printf("%s %s\n", step, tus_state(r));
        sandnet_tus_result_free(r);
    } else {
        printf("%s %s: %s\n", step, sandnet_error_kind_name(err->kind), err->reason);
        sandnet_error_free(err);
    }
}

/* tus against a server whose HEAD claims more than the 1 MB once an upload
 * holds bytes: pause a first upload after its first 256 KiB chunk and
 * resume it (refused at the first HEAD), then send a second through the
 * connection the server drops (refused at the HEAD after it). */
static void tus_offset_past(const char *create_url) {
    sandnet_tus_options opts;
    sandnet_tus_result paused, resumed, dropped;
    const uint8_t *data = tus_start_paused(create_url, &opts, &paused);
    sandnet_error err;
    bool ok = sandnet_tus_resume(paused.url, data, TUS_SIZE, &opts, &resumed, &err);
    print_refusal("resume", ok, &resumed, &err);
    ok = sandnet_tus_start(create_url, data, TUS_SIZE, &opts, &dropped, &err);
    print_refusal("after a drop", ok, &dropped, &err);
    sandnet_tus_result_free(&paused);
}

/** Byte i of a conformance file: i % 251. */
static uint8_t pattern_byte(uint64_t i) {
    return (uint8_t)(i % 251);
}

/** A file made while it is sent: its next byte's index. */
typedef struct pattern_reader {
    uint64_t next;
} pattern_reader;

static ptrdiff_t read_pattern(void *ctx, void *buf, size_t cap) {
    pattern_reader *r = ctx;
    uint8_t *out = buf;
    for (size_t i = 0; i < cap; i++) out[i] = pattern_byte(r->next++);
    return (ptrdiff_t)cap;
}

/** What the progress reports showed: several, never going back, never past
 *  the form's length, each announcing that length. */
typedef struct progress_check {
    uint64_t total;
    size_t reports;
    uint64_t last;
    bool ok;
} progress_check;

static void on_progress(void *ctx, sandnet_progress p) {
    progress_check *check = ctx;
    check->ok = check->ok && p.sent >= check->last && p.sent <= p.total && p.total == check->total;
    check->last = p.sent;
    check->reports++;
}

static void multipart(const char *target) {
    enum { FIRST = 300000, SECOND = 150000 };
    static uint8_t first[FIRST];
    for (size_t i = 0; i < FIRST; i++) first[i] = pattern_byte(i);
    pattern_reader second = {0};
    sandnet_error err;
    sandnet_multipart *form = sandnet_multipart_new();
    if (!sandnet_multipart_add_text(form, "note", "two files", &err) ||
        !sandnet_multipart_add_file(form, "first", "a.bin", "application/octet-stream", first,
                                    FIRST, &err) ||
        !sandnet_multipart_add_file_reader(form, "second", "b.txt", "text/plain", SECOND,
                                           read_pattern, &second, &err)) {
        fail(&err);
    }
    progress_check check = {.total = sandnet_multipart_total(form), .ok = true};
    sandnet_request req = {.method = "POST", .url = target};
    sandnet_http_pending *pending = sandnet_multipart_send(form, &req, on_progress, &check, &err);
    if (pending == NULL) fail(&err);
    sandnet_http_incoming *in = sandnet_http_pending_wait(pending, &err);
    if (in == NULL) fail(&err);
    printf(check.ok && check.reports >= 2 ? "progress ok\n" : "progress bad\n");
    printf("%u\n", sandnet_http_incoming_status(in));
    char body[1024];
    size_t len;
    do {
        if (!sandnet_http_incoming_read(in, body, sizeof body, &len, &err)) fail(&err);
        fwrite(body, 1, len, stdout);
    } while (len > 0);
    sandnet_http_incoming_free(in);
}

/** A reader of 'b' bytes that ends after `left` of them. */
static ptrdiff_t read_short(void *ctx, void *buf, size_t cap) {
    uint64_t *left = ctx;
    size_t n = *left < cap ? (size_t)*left : cap;
    memset(buf, 'b', n);
    *left -= n;
    return (ptrdiff_t)n;
}

/* Not a conformance case: tests/it/http/multipart.rs checks that a file
 * shorter than its announced size cancels the upload with a clear error. */
static void multipart_short(const char *target) {
    uint64_t left = 100000;
    sandnet_error err;
    sandnet_multipart *form = sandnet_multipart_new();
    if (!sandnet_multipart_add_file_reader(form, "second", "b.txt", "text/plain", 150000,
                                           read_short, &left, &err)) {
        fail(&err);
    }
    sandnet_request req = {.method = "POST", .url = target};
    sandnet_http_pending *pending = sandnet_multipart_send(form, &req, NULL, NULL, &err);
    if (pending != NULL) {
        printf("sent\n");
        sandnet_http_pending_free(pending);
        return;
    }
    printf("%s: %s\n", sandnet_error_kind_name(err.kind), err.reason);
    sandnet_error_free(&err);
}

/** A case name and the function that runs it. */
typedef struct conformance_case {
    const char *name;
    void (*run)(const char *target);
} conformance_case;

static const conformance_case CASES[] = {
    {"get-json", get_json},
    {"post-json", post_json},
    {"headers", headers},
    {"denied", denied},
    {"timeout", timeout},
    {"download", download},
    {"upload", upload},
    {"ws-echo", ws_echo},
    {"ws-close-first", ws_close_first},
    {"ws-send-after-close", ws_send_after_close},
    {"sse", sse},
    {"tcp-echo", tcp_echo},
    {"udp-echo", udp_echo},
    {"concurrent", concurrent},
    {"tus", tus},
    {"tus-offset-past", tus_offset_past},
    {"multipart", multipart},
    {"multipart-short", multipart_short},
};

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: conformance CASE TARGET\n");
        return EXIT_USAGE;
    }
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        if (strcmp(CASES[i].name, argv[1]) == 0) {
            CASES[i].run(argv[2]);
            return 0;
        }
    }
    fprintf(stderr, "conformance: unknown case \"%s\"\n", argv[1]);
    return EXIT_USAGE;
}
