/**
 * HTTP over `sandnet:net/http`, sandnet's own API: `request` (whole
 * response), `send` (streamed body), `upload` (streamed request body, or a
 * `FormData` as multipart, with progress); every request is checked by the host against the guest's
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
 * an iterable / async iterable of chunks, or a `FormData`), `totalBytes`
 * (sent as `content-length`; required by some servers) and `onProgress({
 * sent, total })`, called after each chunk (`sent` counts the bytes the
 * connection took). A `FormData` goes out as `multipart/form-data`, its
 * `Blob` / `File` parts read while they are sent, with its content-type and
 * length set here. Redirects are never followed.
 */
export async function upload(url, init = {}) {
  let { body, totalBytes, headers } = init;
  if (isFormData(body)) {
    const form = new MultipartBody(body);
    headers = [...headerList(headers).filter(([k]) => k.toLowerCase() !== 'content-type'),
      ['content-type', form.contentType]];
    totalBytes = form.totalBytes;
    body = form.chunks();
  }
  const req = toRequest(url, { ...init, headers, method: init.method ?? 'POST', body: undefined });
  const total = totalBytes === undefined ? undefined : BigInt(totalBytes);
  const out = net(() => http.upload(req, total, toOptions(init)));
  const chunks = typeof body === 'string' || ArrayBuffer.isView(body) ? [body] : (body ?? []);
  return response(await writeBody(out, chunks, init.onProgress));
}

/**
 * Writes `chunks` (sync or async iterable) to an `outgoing-body`, waiting
 * for room before each write and calling `onProgress(out.progress())` after
 * it, then ends the body; resolves with the pending response. An error (or
 * an abort of `signal`) drops the body, which cancels the request.
 */
export async function writeBody(out, chunks, onProgress, signal) {
  try {
    for await (const chunk of chunks) {
      await ready(out.subscribe(), signal);
      net(() => out.write(bytes(chunk)));
      onProgress?.(out.progress());
    }
  } catch (err) {
    out[Symbol.dispose]();
    throw err;
  }
  return net(() => http.OutgoingBody.finish(out));
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

// ---------------------------------------------------------------------------
// multipart/form-data (RFC 7578) from a `FormData`, made part by part while
// it is sent: string fields and `Blob` / `File` parts (file name and type),
// the length known up front, never joined into one buffer. `upload` (with
// progress) and the web's `fetch` send a `FormData` through it.

/** Largest piece a `Blob` part of a multipart body is read in. */
const BLOB_CHUNK_BYTES = 65536;

/** `value` as a quoted parameter, `"` CR LF percent-encoded as browsers do. */
function quoted(value) {
  return `"${value.replace(/"/g, '%22').replace(/\r/g, '%0D').replace(/\n/g, '%0A')}"`;
}

/** Whether `value` is a `Blob` (or `File`) without relying on one realm's class. */
function isBlob(value) {
  return typeof value === 'object' && value !== null && typeof value.slice === 'function'
    && typeof value.arrayBuffer === 'function' && typeof value.size === 'number';
}

/** Whether `body` is a `FormData` (also one made in another realm). */
export function isFormData(body) {
  return typeof FormData !== 'undefined' && body instanceof FormData
    || Object.prototype.toString.call(body) === '[object FormData]';
}

/** A random boundary: "sandnet-" and 128 bits in hex. */
function randomBoundary() {
  const bits = crypto.getRandomValues(new Uint8Array(16));
  return `sandnet-${Array.from(bits, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}

/**
 * A `FormData` as a streamed multipart body: `contentType` (boundary
 * included), `totalBytes` (sent as content-length) and `chunks()`, an async
 * iterable of `Uint8Array`s that reads each `Blob` in 64 KiB slices as it is
 * reached.
 */
export class MultipartBody {
  /** `form`: a `FormData`; `boundary`: for reproducible bodies (random by default). */
  constructor(form, boundary = randomBoundary()) {
    this.boundary = boundary;
    this.#parts = Array.from(form.entries(), ([name, value]) => {
      let head = `--${boundary}\r\nContent-Disposition: form-data; name=${quoted(name)}`;
      let content = value;
      if (isBlob(value)) {
        const filename = typeof value.name === 'string' ? value.name : 'blob';
        const type = (value.type || 'application/octet-stream').replace(/[\r\n]/g, '');
        head += `; filename=${quoted(filename)}\r\nContent-Type: ${type}`;
      } else {
        content = bytes(String(value));
      }
      return { head: bytes(`${head}\r\n\r\n`), content };
    });
    this.#closing = bytes(`--${boundary}--\r\n`);
  }

  #parts;
  #closing;

  /** The `content-type` header value. */
  get contentType() {
    return `multipart/form-data; boundary=${this.boundary}`;
  }

  /** The body's length in bytes. */
  get totalBytes() {
    const sizeOf = (content) => (isBlob(content) ? content.size : content.byteLength);
    return this.#parts.reduce((sum, p) => sum + p.head.byteLength + sizeOf(p.content) + 2, 0)
      + this.#closing.byteLength;
  }

  /** The body, piece by piece. */
  async *chunks() {
    const crlf = bytes('\r\n');
    for (const { head, content } of this.#parts) {
      yield head;
      if (isBlob(content)) {
        for (let at = 0; at < content.size; at += BLOB_CHUNK_BYTES) {
          const slice = content.slice(at, Math.min(at + BLOB_CHUNK_BYTES, content.size));
          yield new Uint8Array(await slice.arrayBuffer());
        }
      } else if (content.byteLength > 0) {
        yield content;
      }
      yield crlf;
    }
    yield this.#closing;
  }
}
