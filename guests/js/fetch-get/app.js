/**
 * `fetch-get URL [METHOD [BODY]]`: one HTTP request with the standard `fetch()`
 * only, no `sandnet:net` import. It reaches the network through
 * `wasi:http/outgoing-handler`, which sandnet gates with the same policy.
 *
 * Same contract as `http-get`: prints the status code on the first line of
 * stdout, then the response body verbatim; exits 0 on any HTTP response and 1
 * when `fetch()` rejects, printed to stderr as `fetch-get: <error>` (for a
 * denial the host prints the reason and the policy line to add on its own
 * stderr; the guest sees only the standard error code). Exits 2 on bad usage.
 *
 * The arguments come from `wasi:cli/environment` and the exit status goes to
 * `wasi:cli/exit`: the standard WASI CLI imports, not sandnet's.
 *
 * Built by scripts/build-guests.sh with componentize-js, world `script`, with
 * StarlingMonkey's `http` feature on, into target/guests/js-fetch-get.wasm.
 */

import { getArguments } from 'wasi:cli/environment@0.2.12';
import { exitWithCode } from 'wasi:cli/exit@0.2.12';
import { getStderr } from 'wasi:cli/stderr@0.2.12';
import { getStdout } from 'wasi:cli/stdout@0.2.12';

const USAGE = 'usage: fetch-get URL [METHOD [BODY]]';
/** Largest write `blocking-write-and-flush` accepts. */
const MAX_WRITE = 4096;

/** Writes `data` (string or bytes) to `stream` verbatim. */
function write(stream, data) {
  const all = typeof data === 'string' ? new TextEncoder().encode(data) : data;
  for (let at = 0; at < all.length; at += MAX_WRITE) {
    stream.blockingWriteAndFlush(all.subarray(at, at + MAX_WRITE));
  }
}

async function main() {
  const args = getArguments().slice(1);
  if (args.length < 1 || args.length > 3) {
    write(getStderr(), `fetch-get: ${USAGE}\n`);
    return 2;
  }
  const [url, method = 'GET', body] = args;
  let response;
  let bytes;
  try {
    response = await fetch(url, { method, body });
    bytes = new Uint8Array(await response.arrayBuffer());
  } catch (err) {
    const cause = err && err.cause ? ` (${err.cause})` : '';
    write(getStderr(), `fetch-get: ${err}${cause}\n`);
    return 1;
  }
  const stdout = getStdout();
  write(stdout, `${response.status}\n`);
  write(stdout, bytes);
  return 0;
}

export const run = {
  async run() {
    const code = await main();
    if (code !== 0) exitWithCode(code);
  },
};
