/**
 * sandnet.js: the web platform and sandnet's own API for JavaScript guests
 * built with componentize-js (world `script`).
 *
 * Importing it (or building a plain script, which imports it for you)
 * installs what a browser or Deno script expects on `globalThis`: `fetch`,
 * `WebSocket`, `EventSource`, timers that fire on time while sockets wait,
 * `AbortSignal.timeout`, and `Deno.args` / `Deno.env` / `Deno.exit`; every
 * call goes through `sandnet:net` and the guest's policy. A plain script
 * (no `import`, no `export`) needs nothing else:
 *
 *     const [a, b] = await Promise.all([fetch(urlA), fetch(urlB)]);
 *     console.log(a.status, await b.json());
 *
 * A module names what it uses and exports `run`:
 *
 *     import { main, NetError, TcpStream } from './sandnet.js';
 *
 *     export const run = main(async (args) => {
 *       try {
 *         const response = await fetch(args[0]);
 *         console.log(response.status, await response.text());
 *       } catch (err) {
 *         if (!(err.cause instanceof NetError)) throw err;
 *         console.error(`${err.cause}`); // "denied: ..." plus a "hint: ..." line
 *         return 1;                      // the run's exit status
 *       }
 *     });
 *
 * A network failure of `fetch` is a `TypeError` whose `cause` is the
 * `NetError`; sandnet's own calls throw the `NetError` itself.
 *
 * This file only gathers the library's public names; the code is one module
 * per concept under `sandnet/`: `http` (`request`, `send`, `upload`,
 * `MultipartBody`: a `FormData` streamed as multipart/form-data),
 * `websocket` (`WebSocketConnection`, `WebSocketListener`), `sse`
 * (`EventStream`), `tcp` (`TcpStream`, `TcpListener`), `udp`
 * (`UdpSocket`), `tus` (`TusUpload`, resumable uploads), `poll` (the event loop: `ready`, `waitAny`), `error`
 * (`NetError`), `process` (`main`, `args`, `env`, `stdout`, `stderr`,
 * `exit`), `bytes`, and under `sandnet/web/` the web platform (`fetch`,
 * `WebSocket`, `EventSource`, events, timers, globals).
 */

import './sandnet/web/globals.js';

export { NetError } from './sandnet/error.js';
export { EventStream } from './sandnet/sse.js';
export {
  MultipartBody, Response, StreamingResponse, request, requestSync, send, upload,
} from './sandnet/http.js';
export { ready, waitAny } from './sandnet/poll.js';
export { args, env, exit, main, stderr, stdout } from './sandnet/process.js';
export { TcpListener, TcpStream } from './sandnet/tcp.js';
export { TUS_VERSION, TusUpload } from './sandnet/tus.js';
export { UdpSocket } from './sandnet/udp.js';
export { EventSource } from './sandnet/web/eventsource.js';
export { CloseEvent, ErrorEvent, MessageEvent } from './sandnet/web/events.js';
export { fetch } from './sandnet/web/fetch.js';
export { WebSocket } from './sandnet/web/websocket.js';
export { WebSocketConnection, WebSocketListener } from './sandnet/websocket.js';
