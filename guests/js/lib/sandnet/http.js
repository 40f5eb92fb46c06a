/**
 * HTTP over `sandnet:net/http`, sandnet's own API: `request` (whole
 * response), `send` (streamed body), `upload` (streamed request body with
 * progress); every request is checked by the host against the guest's
 * policy. The web's `fetch` is in `web/fetch.js`.
 */

import * as http from 'sandnet:net/http@0.1.0';

import { bytes, text } from './bytes.js';
import { NetError, net } from './error.js';
import { ready } from './poll.js';

const METHODS = new Set(['get', 'head', 'post', 'put', 'patch', 'delete', 'options', 'trace', 'connect']);

/** A method name as the WIT `method` variant. */
export function method(name) {
  const lower = name.toLowerCase();
  return METHODS.has(lower) ? { tag: lower } : { tag: 'other', val: name };
}

/** A header object or `[name, value]` list as the WIT `headers` list. */
export function headerList(headers) {
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
    return text(this.body);
  }

  /** The body parsed as JSON. */
  json() {
    return JSON.parse(this.text());
  }
}

/**
 * Sends one request and resolves with the whole response. `init` fields, all optional:
 * `method` (any name, default "GET"), `headers` (object or pair list),
 * `body` (string, Uint8Array or ArrayBuffer), `timeoutMs` (total),
 * `connectTimeoutMs`, `firstByteTimeoutMs`, `maxRedirects`, `maxBodyBytes`.
 * Unset options take the policy's limits or the host's defaults.
 * Rejects with a `NetError` when no response arrives.
 */
export async function request(url, init = {}) {
  return requestSync(url, init);
}

/** `request` without the Promise: blocks until the response has arrived. */
export function requestSync(url, init = {}) {
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
 * Same `init` as `request` (`maxBodyBytes` does not apply).
 */
export async function send(url, init = {}) {
  return response(net(() => http.send(toRequest(url, init), toOptions(init))));
}

/**
 * Streams a request body and resolves with the `StreamingResponse`.
 * `init`: as for `send` (default method "POST"), plus `body` (string, bytes,
 * or an iterable / async iterable of chunks), `totalBytes` (sent as
 * `content-length`; required by some servers) and `onProgress({ sent,
 * total })`, called after each chunk. Redirects are never followed.
 */
export async function upload(url, init = {}) {
  const { body, totalBytes, onProgress } = init;
  const req = toRequest(url, { ...init, method: init.method ?? 'POST', body: undefined });
  const total = totalBytes === undefined ? undefined : BigInt(totalBytes);
  const out = net(() => http.upload(req, total, toOptions(init)));
  const chunks = typeof body === 'string' || ArrayBuffer.isView(body) ? [body] : (body ?? []);
  for await (const chunk of chunks) {
    await ready(out.subscribe());
    net(() => out.write(bytes(chunk)));
    onProgress?.(out.progress());
  }
  return response(net(() => http.OutgoingBody.finish(out)));
}

/** Waits for a pending response's head (with other `ready()` waiters). */
async function response(pending) {
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
