/**
 * `http-get URL [METHOD [BODY]]`: one HTTP request through sandnet.
 *
 * Prints the status code on the first line of stdout, then the response body
 * verbatim. Exits 0 on any HTTP response (4xx and 5xx included) and 1 on a
 * `net-error`, printed to stderr as `http-get: <error>`: for a denial, the
 * reason and, on a second line, the policy line that would allow the URL.
 * Exits 2 on bad usage.
 *
 * Optional environment (the policy can pass it):
 * - `HTTP_GET_MAX_REDIRECTS`: redirects to follow (default 0);
 * - `HTTP_GET_TIMEOUT_MS`: total timeout in milliseconds.
 *
 * Built by scripts/build-guests.sh with componentize-js, world `script`, into
 * target/guests/js-http-get.wasm.
 */

import { NetError, main, request, stderr, stdout } from '../lib/sandnet.js';

const USAGE = 'usage: http-get URL [METHOD [BODY]]';
/** Exit status for a `net-error` (no HTTP response). */
const EXIT_NET_ERROR = 1;
/** Exit status for bad arguments or environment. */
const EXIT_USAGE = 2;

class UsageError extends Error {}

/** The value of `name` as a u32, undefined when unset or empty. */
function envU32(env, name) {
  const value = env[name] ?? '';
  if (value === '') return undefined;
  if (!/^[0-9]+$/.test(value) || Number(value) > 0xffffffff) {
    throw new UsageError(`${name}=${JSON.stringify(value)} is not a whole number from 0 to 4294967295`);
  }
  return Number(value);
}

export const run = main(async (args, env) => {
  let url, init;
  try {
    if (args.length < 1 || args.length > 3) throw new UsageError(USAGE);
    url = args[0];
    init = {
      method: args[1] ?? 'GET',
      body: args[2],
      maxRedirects: envU32(env, 'HTTP_GET_MAX_REDIRECTS'),
      timeoutMs: envU32(env, 'HTTP_GET_TIMEOUT_MS'),
    };
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    stderr.write(`http-get: ${err.message}\n`);
    return EXIT_USAGE;
  }

  let response;
  try {
    response = await request(url, init);
  } catch (err) {
    if (!(err instanceof NetError)) throw err;
    stderr.write(`http-get: ${err}\n`);
    return EXIT_NET_ERROR;
  }
  stdout.write(`${response.status}\n`);
  stdout.write(response.body);
  return 0;
});
