/**
 * `sse-watch URL [COUNT [TYPE...]]`: prints the events of a Server-Sent Events
 * stream through sandnet, one line each: `TYPE ID DATA` (ID `-` when the
 * stream has none; newlines in DATA written `\n`). Same contract as
 * guests/rust/sse-watch.
 *
 * Stops after COUNT events (0 or absent: runs until the stream ends for
 * good); with TYPEs, only events of those types are delivered. The host
 * reconnects after a drop (honouring `retry`, sending `Last-Event-ID`).
 * Exits 0 after COUNT events, 1 on a `net-error` (printed to stderr as
 * `sse-watch: <error>`, with the policy line to add for a denial), 2 on bad
 * usage.
 *
 * Optional environment (the policy can pass it):
 * - `SSE_WATCH_MAX_RECONNECTS`: consecutive failed reconnections before giving up;
 * - `SSE_WATCH_NO_RECONNECT=1`: never reconnect;
 * - `SSE_WATCH_MAX_REDIRECTS`: redirects to follow (default 0).
 *
 * Built by scripts/build-guests.sh with componentize-js, world `script`, into
 * target/guests/js-sse-watch.wasm.
 */

import { EventStream, NetError, main, stderr, stdout } from '../lib/sandnet.js';

const USAGE = 'usage: sse-watch URL [COUNT [TYPE...]]';

/** A whole-number environment variable, undefined when unset or empty. */
function envU32(env, name) {
  const v = env[name];
  if (v === undefined || v === '') return undefined;
  if (!/^[0-9]+$/.test(v) || Number(v) > 0xffffffff) {
    throw new Error(`${name}=${JSON.stringify(v)} is not a whole number`);
  }
  return Number(v);
}

export const run = main(async (args, env) => {
  if (args.length < 1 || (args.length > 1 && !/^[0-9]+$/.test(args[1]))) {
    stderr.write(`sse-watch: ${USAGE}\n`);
    return 2;
  }
  const [url, countArg, ...types] = args;
  const count = countArg === undefined ? 0 : Number(countArg);
  let options;
  try {
    options = {
      eventTypes: types,
      maxReconnects: envU32(env, 'SSE_WATCH_MAX_RECONNECTS'),
      maxRedirects: envU32(env, 'SSE_WATCH_MAX_REDIRECTS'),
      reconnect: env.SSE_WATCH_NO_RECONNECT === '1' ? false : undefined,
    };
  } catch (err) {
    stderr.write(`sse-watch: ${err.message}\n`);
    return 1;
  }
  try {
    const events = EventStream.open(url, options);
    for (let seen = 0; count === 0 || seen < count; seen++) {
      const ev = await events.nextAsync();
      stdout.write(`${ev.type} ${ev.id ?? '-'} ${ev.data.replaceAll('\n', '\\n')}\n`);
    }
  } catch (err) {
    if (!(err instanceof NetError)) throw err;
    stderr.write(`sse-watch: ${err}\n`);
    return 1;
  }
  return 0;
});
