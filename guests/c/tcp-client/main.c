/*
 * tcp-client URL [MESSAGE]: one TCP exchange through sandnet.
 *
 * Connects to URL ("tcp://host:port", or "tls://host:port" with TLS done by
 * the host), writes MESSAGE if given, closes the write half, then prints
 * everything the peer sends until it closes, verbatim. Exits 0 after the peer
 * closed, 1 on a net-error, printed to stderr as "tcp-client: <error>" (for a
 * denial, the reason and, on a second line, the policy line that would allow
 * the address). Exits 2 on bad usage.
 *
 * Built by scripts/build-guests.sh into target/guests/c-tcp-client.wasm.
 */
#include <stdio.h>
#include <string.h>

#include "sandnet.h"

enum { EXIT_NET_ERROR = 1, EXIT_USAGE = 2 };

/** Bytes asked for per read. */
#define READ_CHUNK 65536

static unsigned char buf[READ_CHUNK];

static _Noreturn void fail(sandnet_error *err, sandnet_tcp_stream *s) {
    sandnet_error_print(err, "tcp-client", stderr);
    sandnet_error_free(err);
    sandnet_tcp_close(s);
    sandnet_exit(EXIT_NET_ERROR);
}

int main(int argc, char **argv) {
    if (argc < 2 || argc > 3) {
        fputs("tcp-client: usage: tcp-client URL [MESSAGE]\n", stderr);
        sandnet_exit(EXIT_USAGE);
    }
    sandnet_error err;
    sandnet_tcp_stream *s = sandnet_tcp_connect(argv[1], &err);
    if (s == NULL) fail(&err, NULL);
    if (argc > 2 && !sandnet_tcp_write(s, argv[2], strlen(argv[2]), &err)) fail(&err, s);
    if (!sandnet_tcp_shutdown(s, &err)) fail(&err, s);
    for (;;) {
        size_t n = 0;
        if (!sandnet_tcp_read(s, buf, sizeof buf, &n, &err)) fail(&err, s);
        if (n == 0) break;
        fwrite(buf, 1, n, stdout);
    }
    sandnet_tcp_close(s);
    fflush(stdout);
    return 0;
}
