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
 */

import * as http from 'sandnet:net/http@0.1.0';
import * as sse from 'sandnet:net/sse@0.1.0';
import * as tcp from 'sandnet:net/tcp@0.1.0';
import * as udp from 'sandnet:net/udp@0.1.0';
import * as websocket from 'sandnet:net/websocket@0.1.0';
import { getArguments, getEnvironment } from 'wasi:cli/environment@0.2.12';
import { exitWithCode } from 'wasi:cli/exit@0.2.12';
import { getStderr } from 'wasi:cli/stderr@0.2.12';
import { getStdout } from 'wasi:cli/stdout@0.2.12';
import { poll } from 'wasi:io/poll@0.2.12';

// ---------------------------------------------------------------------------
// Errors

/**
 * A `net-error` from the host: the call reached no response.
 *
 * - `kind`: the WIT case name: "denied", "dns", "connect", "tls", "timeout",
 *   "closed", "limit-exceeded", "protocol" or "invalid-argument";
 * - `reason`: the message; for "timeout" the deadline ("connect",
 *   "first-byte", "total", "idle"); for "limit-exceeded" e.g.
 *   "max_body_bytes (10485760)";
 * - `suggestion`: for "denied", the policy line that would allow the target
 *   (undefined when a deny rule matched);
 * - `ruleLine`: for "denied", the policy line whose rule decided, if any;
 * - `limit`: for "limit-exceeded", `{ name, value }` (value is a BigInt).
 *
 * `message` (and `String(err)`) is one actionable line, plus for a denial a
 * second line: `hint: add to the policy's allow list: "..."`.
 */
export class NetError extends Error {
  constructor(kind, reason, { suggestion, ruleLine, limit } = {}) {
    let message = `${kind}: ${reason}`;
    if (suggestion !== undefined) {
      message += `\nhint: add to the policy's allow list: ${suggestion}`;
    }
    super(message);
    this.name = 'NetError';
    this.kind = kind;
    this.reason = reason;
    this.suggestion = suggestion;
    this.ruleLine = ruleLine;
    this.limit = limit;
  }

  /** Converts the generated `net-error` value (`{ tag, val }`). */
  static fromWit({ tag, val }) {
    switch (tag) {
      case 'denied':
        return new NetError(tag, val.reason, {
          suggestion: val.suggestion,
          ruleLine: val.ruleLine,
        });
      case 'limit-exceeded':
        return new NetError(tag, `${val.name} (${val.value})`, { limit: val });
      default: // dns, connect, tls, timeout (val is the kind), closed, ...
        return new NetError(tag, String(val));
    }
  }

  /** Whether the policy refused the call. */
  get denied() {
    return this.kind === 'denied';
  }

  toString() {
    return this.message;
  }
}

/**
 * Calls a generated import, turning its thrown `net-error` into a `NetError`.
 * componentize-js throws an Error whose `payload` is the WIT error value.
 */
function net(call) {
  try {
    return call();
  } catch (err) {
    if (err && typeof err === 'object' && err.payload && typeof err.payload.tag === 'string') {
      throw NetError.fromWit(err.payload);
    }
    throw err;
  }
}

// ---------------------------------------------------------------------------
// Waiting on several resources

/** Pollables waited on by pending `ready()` promises. */
const waiting = [];
let draining = false;

/**
 * A Promise that resolves when `pollable` is ready. All pollables awaited at
 * the same time are handed to one `wasi:io/poll.poll` call, so requests and
 * streams in flight together are waited on together:
 *
 *     const [a, b] = await Promise.all([send(urlA), send(urlB)]);
 *
 * `pollable` is consumed (dropped once ready).
 */
export function ready(pollable) {
  return new Promise((resolve) => {
    waiting.push({ pollable, resolve });
    if (!draining) {
      draining = true;
      setTimeout(drain, 0);
    }
  });
}

/** Blocks in `poll` until some waiters are ready, resolves them, repeats. */
function drain() {
  const ready = poll(waiting.map((w) => w.pollable));
  const done = new Set(ready);
  const resolved = [];
  for (let i = waiting.length - 1; i >= 0; i--) {
    if (done.has(i)) {
      resolved.push(waiting[i]);
      waiting.splice(i, 1);
    }
  }
  for (const w of resolved) {
    w.pollable[Symbol.dispose]();
    w.resolve();
  }
  // Let the resolved promises run (and perhaps add waiters) before polling again.
  if (waiting.length > 0) {
    setTimeout(drain, 0);
  } else {
    draining = false;
  }
}

/**
 * Blocks until at least one of `resources` (anything with `subscribe()`:
 * responses, streams, connections) would not wait; returns their indices.
 */
export function waitAny(resources) {
  const pollables = resources.map((r) => r.subscribe());
  try {
    return Array.from(poll(pollables));
  } finally {
    for (const p of pollables) p[Symbol.dispose]();
  }
}

// ---------------------------------------------------------------------------
// HTTP

const METHODS = new Set(['get', 'head', 'post', 'put', 'patch', 'delete', 'options', 'trace', 'connect']);

function method(name) {
  const lower = name.toLowerCase();
  return METHODS.has(lower) ? { tag: lower } : { tag: 'other', val: name };
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** `string | Uint8Array | ArrayBuffer | undefined` as the bytes to send. */
function bytes(body) {
  if (body === undefined || body === null) return undefined;
  if (typeof body === 'string') return encoder.encode(body);
  // Not `instanceof`: arrays made by the generated bindings come from
  // another realm.
  if (ArrayBuffer.isView(body)) return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  if (Object.prototype.toString.call(body) === '[object ArrayBuffer]') return new Uint8Array(body);
  throw new TypeError('body must be a string, Uint8Array or ArrayBuffer');
}

/** A header object or `[name, value]` list as the WIT `headers` list. */
function headerList(headers) {
  if (!headers) return [];
  return Array.isArray(headers) ? headers.map(([k, v]) => [k, v]) : Object.entries(headers);
}

function toRequest(url, init) {
  return {
    method: method(init.method ?? 'GET'),
    url,
    headers: headerList(init.headers),
    body: bytes(init.body),
  };
}

function toOptions(init) {
  return {
    connectTimeoutMs: init.connectTimeoutMs,
    firstByteTimeoutMs: init.firstByteTimeoutMs,
    totalTimeoutMs: init.timeoutMs,
    maxRedirects: init.maxRedirects,
    maxBodyBytes: init.maxBodyBytes === undefined ? undefined : BigInt(init.maxBodyBytes),
  };
}

/** Case-insensitive lookup in a `[name, value]` list. */
function findHeader(headers, name) {
  const lower = name.toLowerCase();
  const hit = headers.find(([k]) => k.toLowerCase() === lower);
  return hit === undefined ? undefined : hit[1];
}

/** A complete HTTP response (any status, 4xx and 5xx included). */
export class Response {
  constructor({ status, reason, headers, body, url }) {
    /** Status code, e.g. 200. */
    this.status = status;
    /** Reason phrase. */
    this.reason = reason;
    /** `[name, value]` pairs in the order received. */
    this.headers = headers;
    /** The body, a Uint8Array. */
    this.body = body;
    /** The URL that produced this response (differs after redirects). */
    this.url = url;
  }

  /** Whether the status is 2xx. */
  get ok() {
    return this.status >= 200 && this.status < 300;
  }

  /** The first value of header `name` (case-insensitive), or undefined. */
  header(name) {
    return findHeader(this.headers, name);
  }

  /** The body decoded as UTF-8. */
  text() {
    return decoder.decode(this.body);
  }

  /** The body parsed as JSON. */
  json() {
    return JSON.parse(this.text());
  }
}

/**
 * Sends one request and resolves with the whole response, like the web's
 * `fetch` but through sandnet's policy. `init` fields, all optional:
 * `method` (any name, default "GET"), `headers` (object or pair list),
 * `body` (string, Uint8Array or ArrayBuffer), `timeoutMs` (total),
 * `connectTimeoutMs`, `firstByteTimeoutMs`, `maxRedirects`, `maxBodyBytes`.
 * Unset options take the policy's limits or the host's defaults.
 * Rejects with a `NetError` when no response arrives.
 */
export async function fetch(url, init = {}) {
  return fetchSync(url, init);
}

/** `fetch` without the Promise: blocks until the response has arrived. */
export function fetchSync(url, init = {}) {
  const raw = net(() => http.fetch(toRequest(url, init), toOptions(init)));
  return new Response(raw);
}

/**
 * A response whose body is read in chunks (for bodies larger than memory).
 * Dropping it (`close()`) cancels the request.
 */
export class StreamingResponse {
  constructor(incoming) {
    this.#incoming = incoming;
    /** Status code. */
    this.status = incoming.status();
    /** Reason phrase. */
    this.reason = incoming.reason();
    /** `[name, value]` pairs. */
    this.headers = incoming.headers();
    /** The URL that produced this response. */
    this.url = incoming.url();
  }

  #incoming;

  /** The first value of header `name` (case-insensitive), or undefined. */
  header(name) {
    return findHeader(this.headers, name);
  }

  /** The next body chunk (at most `maxBytes`), or undefined at the end. */
  async read(maxBytes = 65536) {
    await ready(this.#incoming.subscribe());
    return net(() => this.#incoming.read(maxBytes));
  }

  /** The body chunk by chunk: `for await (const chunk of res) ...`. */
  async *[Symbol.asyncIterator]() {
    for (;;) {
      const chunk = await this.read();
      if (chunk === undefined) return;
      yield chunk;
    }
  }

  /** Subscribes to body readiness, for `waitAny`. */
  subscribe() {
    return this.#incoming.subscribe();
  }

  /** Cancels the request and releases the connection. */
  close() {
    this.#incoming[Symbol.dispose]();
  }
}

/**
 * Starts a request and resolves with its `StreamingResponse` once the
 * response head has arrived; requests sent together wait together.
 * Same `init` as `fetch` (`maxBodyBytes` does not apply).
 */
export async function send(url, init = {}) {
  const pending = net(() => http.send(toRequest(url, init), toOptions(init)));
  try {
    for (;;) {
      const outcome = pending.get();
      if (outcome !== undefined) {
        if (outcome.tag === 'err') throw NetError.fromWit(outcome.val);
        return new StreamingResponse(outcome.val);
      }
      await ready(pending.subscribe());
    }
  } finally {
    pending[Symbol.dispose]();
  }
}

// ---------------------------------------------------------------------------
// TCP

/**
 * A TCP (or host-terminated TLS) stream to a `tcp://host:port` or
 * `tls://host:port` the policy grants.
 *
 *     const s = TcpStream.connect('tcp://127.0.0.1:6379');
 *     s.write('PING\r\n');
 *     console.log(TcpStream.text(s.readUntil('\r\n')));
 *     s.close();
 */
export class TcpStream {
  constructor(raw) {
    this.#raw = raw;
  }

  #raw;

  /**
   * Connects through the guard. `options`: `connectTimeoutMs`, `readTimeoutMs`.
   * Throws `NetError` (e.g. kind "denied" with the policy line to add).
   */
  static connect(url, options = {}) {
    const raw = net(() =>
      tcp.Stream.connect(url, {
        connectTimeoutMs: options.connectTimeoutMs,
        readTimeoutMs: options.readTimeoutMs,
      }),
    );
    return new TcpStream(raw);
  }

  /** Decodes bytes read from a stream as UTF-8. */
  static text(data) {
    return decoder.decode(data);
  }

  /** The peer's address as `IP:PORT`. */
  get peerAddress() {
    return this.#raw.peerAddress();
  }

  /** Reads up to `maxBytes`, waiting for at least one; empty at end of stream. */
  read(maxBytes = 65536) {
    return net(() => this.#raw.read(maxBytes));
  }

  /** `read`, waiting together with other `ready()` waiters. */
  async readAsync(maxBytes = 65536) {
    await ready(this.#raw.subscribe());
    return this.read(maxBytes);
  }

  /** Reads through `delimiter` (string or bytes, included), at most `maxBytes`. */
  readUntil(delimiter, maxBytes = 65536) {
    return net(() => this.#raw.readUntil(bytes(delimiter), maxBytes));
  }

  /** Writes all of `data` (string or bytes). */
  write(data) {
    net(() => this.#raw.write(bytes(data)));
  }

  /** Closes the write half; the peer sees end of stream. */
  shutdown() {
    net(() => this.#raw.shutdown());
  }

  /** Subscribes to read readiness, for `waitAny`. */
  subscribe() {
    return this.#raw.subscribe();
  }

  /** Closes the connection. */
  close() {
    this.#raw[Symbol.dispose]();
  }
}

// ---------------------------------------------------------------------------
// WebSocket

/**
 * A WebSocket client connection to a `ws://` or `wss://` URL the policy grants.
 * Messages are `{ type: 'text', data: string }`, `{ type: 'binary', data:
 * Uint8Array }` or `{ type: 'close', code, reason }`.
 *
 *     const ws = WebSocket.connect('ws://127.0.0.1:9000/chat');
 *     ws.send('hello');
 *     for await (const msg of ws) console.log(msg.data);
 */
export class WebSocket {
  constructor(raw) {
    this.#raw = raw;
  }

  #raw;

  /**
   * Connects through the guard. `options`: `headers`, `subprotocols`,
   * `heartbeatMs`, `connectTimeoutMs`, `reconnect` (`{ maxAttempts,
   * initialBackoffMs, maxBackoffMs }`). Throws `NetError`.
   */
  static connect(url, options = {}) {
    const raw = net(() =>
      websocket.Connection.connect(url, {
        headers: headerList(options.headers),
        subprotocols: options.subprotocols ?? [],
        heartbeatMs: options.heartbeatMs,
        connectTimeoutMs: options.connectTimeoutMs,
        reconnect: options.reconnect,
      }),
    );
    return new WebSocket(raw);
  }

  /** The subprotocol the server chose, if any. */
  get protocol() {
    return this.#raw.subprotocol();
  }

  /** "connecting", "open", "closing" or "closed". */
  get state() {
    return this.#raw.state();
  }

  /** Sends a text message (string) or a binary one (Uint8Array/ArrayBuffer). */
  send(data) {
    if (typeof data === 'string') {
      net(() => this.#raw.sendText(data));
    } else {
      net(() => this.#raw.sendBinary(bytes(data)));
    }
  }

  /** Waits for the next message. */
  receive() {
    return message(net(() => this.#raw.receive()));
  }

  /** The next message if one is ready, else undefined. */
  tryReceive() {
    const raw = net(() => this.#raw.tryReceive());
    return raw === undefined ? undefined : message(raw);
  }

  /** `receive`, waiting together with other `ready()` waiters. */
  async receiveAsync() {
    await ready(this.#raw.subscribe());
    return this.receive();
  }

  /** Messages until (and including) the peer's close. */
  async *[Symbol.asyncIterator]() {
    for (;;) {
      const msg = await this.receiveAsync();
      yield msg;
      if (msg.type === 'close') return;
    }
  }

  /** Starts the close handshake. */
  close(code = 1000, reason = '') {
    net(() => this.#raw.close(code, reason));
  }

  /** Subscribes to message readiness, for `waitAny`. */
  subscribe() {
    return this.#raw.subscribe();
  }
}

function message({ tag, val }) {
  switch (tag) {
    case 'text':
      return { type: 'text', data: val };
    case 'binary':
      return { type: 'binary', data: val };
    default:
      return { type: 'close', code: val.code, reason: val.reason };
  }
}

// ---------------------------------------------------------------------------
// Server-Sent Events

/**
 * A Server-Sent Events stream at an `http://` or `https://` URL the policy
 * grants (an `sse+http://`/`sse+https://` rule, or an `http`/`https` one).
 * Events are `{ type, data, id }` (`id` undefined when the stream has none).
 * The host reconnects after a drop, sending `Last-Event-ID`.
 *
 *     const events = EventSource.open('http://127.0.0.1:8080/events');
 *     for await (const ev of events) console.log(ev.type, ev.data);
 */
export class EventSource {
  constructor(raw) {
    this.#raw = raw;
  }

  #raw;

  /**
   * Opens the stream through the guard. `options`: `headers`, `eventTypes`
   * (deliver only these), `reconnect` (default true), `maxReconnects`,
   * `maxRedirects`. Throws `NetError`.
   */
  static open(url, options = {}) {
    const raw = net(() =>
      sse.EventStream.open(url, {
        headers: headerList(options.headers),
        eventTypes: options.eventTypes ?? [],
        reconnect: options.reconnect,
        maxReconnects: options.maxReconnects,
        maxRedirects: options.maxRedirects,
      }),
    );
    return new EventSource(raw);
  }

  /** Waits for the next event; `NetError` "closed" once the stream ends for good. */
  next() {
    return event(net(() => this.#raw.next()));
  }

  /** The next event if one is ready, else undefined. */
  tryNext() {
    const raw = net(() => this.#raw.tryNext());
    return raw === undefined ? undefined : event(raw);
  }

  /** `next`, waiting together with other `ready()` waiters. */
  async nextAsync() {
    await ready(this.#raw.subscribe());
    return this.next();
  }

  /** Events until the stream ends for good (then the "closed" error is thrown). */
  async *[Symbol.asyncIterator]() {
    for (;;) yield await this.nextAsync();
  }

  /** Subscribes to event readiness, for `waitAny`. */
  subscribe() {
    return this.#raw.subscribe();
  }

  /** Closes the connection. */
  close() {
    this.#raw[Symbol.dispose]();
  }
}

function event({ eventType, data, id }) {
  return { type: eventType, data, id };
}

// ---------------------------------------------------------------------------
// UDP

/**
 * A UDP socket. Datagrams are `{ data: Uint8Array, sender: 'IP:PORT' }`.
 *
 *     const s = UdpSocket.ephemeral();
 *     s.sendTo('udp://127.0.0.1:7008', 'hello');
 *     console.log(UdpSocket.text(s.receive().data));
 */
export class UdpSocket {
  constructor(raw) {
    this.#raw = raw;
  }

  #raw;

  /** Binds `udp-bind://ADDR:PORT` (needs a grant). Throws `NetError`. */
  static bind(address) {
    return new UdpSocket(net(() => udp.Socket.bind(address)));
  }

  /** Binds an ephemeral port (no grant needed), for sending and reading replies. */
  static ephemeral() {
    return new UdpSocket(net(() => udp.Socket.bind(undefined)));
  }

  /** Decodes a datagram's bytes as UTF-8. */
  static text(data) {
    return decoder.decode(data);
  }

  /** The bound address as `IP:PORT`. */
  get localAddress() {
    return this.#raw.localAddress();
  }

  /** Sends `data` (string or bytes) to `udp://host:port`. */
  sendTo(target, data) {
    net(() => this.#raw.sendTo(target, bytes(data)));
  }

  /**
   * Waits for the next datagram from a sender the policy accepts, at most
   * `timeoutMs` (default and maximum: the policy's `read_timeout`).
   */
  receive(timeoutMs) {
    return net(() => this.#raw.receive(timeoutMs));
  }

  /** Waits (with other `ready()` waiters, as long as it takes), then `receive`. */
  async receiveAsync(timeoutMs) {
    await ready(this.#raw.subscribe());
    return this.receive(timeoutMs);
  }

  /** Subscribes to datagram readiness, for `waitAny`. */
  subscribe() {
    return this.#raw.subscribe();
  }

  /** Closes the socket. */
  close() {
    this.#raw[Symbol.dispose]();
  }
}

// ---------------------------------------------------------------------------
// Process: arguments, environment, output, exit

/** The run's arguments, without the program name. */
export function args() {
  return getArguments().slice(1);
}

/** The environment the policy passes, as an object. */
export function env() {
  return Object.fromEntries(getEnvironment());
}

/** Largest write `blocking-write-and-flush` accepts. */
const MAX_WRITE = 4096;

class Output {
  constructor(open) {
    this.#open = open;
  }

  #open;
  #stream;

  /** Writes `data` (string as UTF-8, or bytes) verbatim and flushes it. */
  write(data) {
    const all = bytes(data);
    this.#stream ??= this.#open();
    for (let at = 0; at < all.length; at += MAX_WRITE) {
      this.#stream.blockingWriteAndFlush(all.subarray(at, at + MAX_WRITE));
    }
  }
}

/** Standard output, byte-exact (console.log always adds a newline). */
export const stdout = new Output(getStdout);
/** Standard error. */
export const stderr = new Output(getStderr);

/** Ends the run now with status `code` (0-255). */
export function exit(code) {
  exitWithCode(code);
}

/**
 * The `wasi:cli/run` export for `fn(args, env)`, which may be async:
 * `export const run = main(async (args, env) => ...)`.
 *
 * A returned number is the exit status. An uncaught exception is printed to
 * stderr and exits 1 (componentize-js alone would exit 1 silently).
 */
export function main(fn) {
  return {
    async run() {
      let code;
      try {
        code = await fn(args(), env());
      } catch (err) {
        stderr.write(`${err instanceof Error ? (err.stack ? `${err}\n${err.stack}` : err) : err}\n`);
        code = 1;
      }
      if (typeof code === 'number' && code !== 0) exit(code);
    },
  };
}
