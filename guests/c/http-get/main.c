/*
 * http-get URL [METHOD [BODY]]: one HTTP request through sandnet.
 *
 * Prints the status code on the first line of stdout, then the response body
 * verbatim. Exits 0 on any HTTP response (4xx and 5xx included) and 1 on a
 * net-error, printed to stderr as "http-get: <error>": for a denial, the
 * reason and, on a second line, the policy line that would allow the URL.
 * Exits 2 on bad usage.
 *
 * Optional environment (the policy can pass it):
 *   HTTP_GET_MAX_REDIRECTS  redirects to follow (default 0)
 *   HTTP_GET_TIMEOUT_MS     total timeout in milliseconds
 *
 * Built by scripts/build-guests.sh (clang + wasi-libc + wit-bindgen c + the
 * preview1 adapter) into target/guests/c-http-get.wasm.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sandnet.h"

#define USAGE "usage: http-get URL [METHOD [BODY]]"

/** Exit status for a net-error (no HTTP response). */
enum { EXIT_NET_ERROR = 1, EXIT_USAGE = 2 };

/** Reads environment variable `name` as a u32 into `*out` (left alone when
 *  unset or empty); false with a message on stderr when it is not one. */
static int env_u32(const char *name, uint32_t *out) {
    const char *value = getenv(name);
    if (value == NULL || value[0] == '\0') return 1;
    char *end = NULL;
    errno = 0;
    unsigned long long n = strtoull(value, &end, 10);
    if (value[0] < '0' || value[0] > '9' || *end != '\0' || errno != 0 || n > UINT32_MAX) {
        fprintf(stderr, "http-get: %s=\"%s\" is not a whole number from 0 to 4294967295\n", name,
                value);
        return 0;
    }
    *out = (uint32_t)n;
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 2 || argc > 4) {
        fprintf(stderr, "http-get: %s\n", USAGE);
        sandnet_exit(EXIT_USAGE);
    }
    sandnet_request req;
    memset(&req, 0, sizeof req);
    req.url = argv[1];
    req.method = argc > 2 ? argv[2] : "GET";
    if (argc > 3) {
        req.body = argv[3];
        req.body_len = strlen(argv[3]);
    }
    if (!env_u32("HTTP_GET_MAX_REDIRECTS", &req.options.max_redirects) ||
        !env_u32("HTTP_GET_TIMEOUT_MS", &req.options.timeout_ms)) {
        sandnet_exit(EXIT_USAGE);
    }

    sandnet_response resp;
    sandnet_error err;
    if (!sandnet_http_fetch(&req, &resp, &err)) {
        sandnet_error_print(&err, "http-get", stderr);
        sandnet_error_free(&err);
        sandnet_exit(EXIT_NET_ERROR);
    }
    printf("%u\n", resp.status);
    fwrite(resp.body, 1, resp.body_len, stdout);
    sandnet_response_free(&resp);
    if (fflush(stdout) != 0) {
        perror("http-get: writing stdout");
        sandnet_exit(EXIT_NET_ERROR);
    }
    return 0;
}
