/**
 * sandnet.js: the `sandnet:net` imports for JavaScript guests built with
 * componentize-js (world `script`), as a small idiomatic API.
 *
 *     import { main, fetch, NetError } from '../lib/sandnet.js';
 *
 *     export const run = main(async (args) => {
 *       try {
 *         const res = await fetch('https://api.example.com/v1/items');
 *         console.log(res.status, res.text());
 *       } catch (err) {
 *         if (!(err instanceof NetError)) throw err;
 *         console.error(`${err}`); // "denied: ..." plus a "hint: ..." line
 *         return 1;                // the run's exit status
 *       }
 *     });
 *
 * Every call that can fail with a `net-error` throws a `NetError`. Host calls
 * block the guest (componentize-js 0.23 has no async imports), so the Promise
 * functions here resolve once the host answers; several requests in flight
 * wait together through `ready()` (one `wasi:io/poll` call for all of them).
 *
 * This file only gathers the library's public names; the code is one module
 * per concept under `sandnet/`: `http`, `websocket`, `sse`, `tcp`, `udp`,
 * `poll` (`ready`, `waitAny`), `error` (`NetError`), `process` (`main`,
 * `args`, `env`, `stdout`, `stderr`, `exit`) and `bytes` (conversions).
 */

export { NetError } from './sandnet/error.js';
export { EventSource } from './sandnet/sse.js';
export { Response, StreamingResponse, fetch, fetchSync, send } from './sandnet/http.js';
export { ready, waitAny } from './sandnet/poll.js';
export { args, env, exit, main, stderr, stdout } from './sandnet/process.js';
export { TcpStream } from './sandnet/tcp.js';
export { UdpSocket } from './sandnet/udp.js';
export { WebSocket } from './sandnet/websocket.js';
