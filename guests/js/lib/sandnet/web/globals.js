/**
 * Installs the web platform a browser or Deno script expects, over sandnet,
 * on `globalThis`: `fetch` (replacing StarlingMonkey's, which would go
 * through `wasi:http`, absent from the `script` world), `WebSocket`,
 * `EventSource`, their event classes, timers on the one event loop (with
 * `AbortSignal.timeout` on them) and the `Deno.args` / `Deno.env` /
 * `Deno.exit` subset a script needs to read its arguments.
 * StarlingMonkey's own `Request`, `Response`, `Headers`, `URL`,
 * `TextEncoder`, `TextDecoder`, `AbortController`, `ReadableStream`,
 * `FormData`, `Blob`, `EventTarget`, `queueMicrotask` and `crypto` stay.
 */

import { schedule } from '../poll.js';
import { args, env, exit } from '../process.js';
import { EventSource } from './eventsource.js';
import { CloseEvent, ErrorEvent, MessageEvent } from './events.js';
import { fetch } from './fetch.js';
import { clearInterval, clearTimeout, setInterval, setTimeout } from './timers.js';
import { WebSocket } from './websocket.js';

/** `AbortSignal.timeout(ms)` on the event loop; its timer alone keeps no program running. */
function abortAfter(ms) {
  const controller = new AbortController();
  schedule(
    () => controller.abort(new DOMException(`signal timed out after ${ms} ms`, 'TimeoutError')),
    ms,
    { keepsAlive: false },
  );
  return controller.signal;
}

const globals = {
  fetch,
  WebSocket,
  EventSource,
  MessageEvent,
  CloseEvent,
  ErrorEvent,
  setTimeout,
  setInterval,
  clearTimeout,
  clearInterval,
};
for (const [name, value] of Object.entries(globals)) {
  Object.defineProperty(globalThis, name, { value, writable: true, configurable: true, enumerable: false });
}
Object.defineProperty(AbortSignal, 'timeout', { value: abortAfter, writable: true, configurable: true });

if (globalThis.Deno === undefined) {
  globalThis.Deno = {
    get args() {
      return args();
    },
    env: {
      get: (name) => env()[name],
      has: (name) => Object.hasOwn(env(), name),
      toObject: () => env(),
    },
    exit,
  };
}
