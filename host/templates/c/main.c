/*
 * {{name}} URL: GET one URL through sandnet and print the status and body.
 *
 * Build: ./build.sh     Run: sandnet run {{name}}.wasm --policy policy.toml -- URL
 */
#include <stdio.h>

#include "sandnet.h"

int main(int argc, char **argv) {
    if (argc != 2) {
        fputs("usage: {{name}} URL\n", stderr);
        sandnet_exit(2);
    }
    sandnet_response resp;
    sandnet_error err;
    if (!sandnet_http_get(argv[1], &resp, &err)) {
        sandnet_error_print(&err, "{{name}}", stderr); /* reason + "hint: ..." line */
        sandnet_error_free(&err);
        return 1;
    }
    printf("%u\n%.*s\n", resp.status, (int)resp.body_len, (const char *)resp.body);
    sandnet_response_free(&resp);
    return 0;
}
