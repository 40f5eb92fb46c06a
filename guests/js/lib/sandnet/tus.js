/**
 * Resumable uploads with tus 1.0 (https://tus.io/protocols/resumable-upload):
 * creation (`POST` with Upload-Length), the server's offset (`HEAD`),
 * `PATCH` chunks streamed through `upload`, and termination (`DELETE`). An
 * upload survives a dropped connection, can be paused and resumed from its
 * URL (in this run or a later one) and can be cancelled, also by an
 * `AbortSignal`.
 *
 *     const tus = new TusUpload(data, {
 *       chunkSize: 1 << 20,
 *       onProgress: ({ sent, total }) => console.log(`${sent}/${total}`), // may return 'pause' or 'cancel'
 *       signal: AbortSignal.timeout(60_000),                              // aborted: cancel
 *     });
 *     let outcome = await tus.start('https://up.example.com/files');
 *     if (outcome.state === 'paused') outcome = await tus.resume(outcome.url);
 *
 * The policy needs `POST` on the creation URL and `HEAD,PATCH,DELETE` on the
 * uploads (docs/http.md, "Resumable uploads (tus)").
 */

import { bytes } from './bytes.js';
import { NetError } from './error.js';
import { request, upload } from './http.js';

/** The protocol version sent in `Tus-Resumable`. */
export const TUS_VERSION = '1.0.0';
/** Largest piece of a `PATCH` body handed to the host per write. */
const PIECE = 65536;
/** Failures of a `PATCH` that resuming cannot fix (the policy, a limit, the request). */
const NOT_RESUMED = new Set(['denied', 'limit-exceeded', 'invalid-argument']);
/** What `onProgress` may return besides nothing (which means 'continue'). */
const CONTROLS = ['continue', 'pause', 'cancel'];

function protocol(message) {
  return new NetError('protocol', message);
}

/** The numeric header `name` of `response`. */
function number(response, name) {
  const value = (response.header(name) ?? '').trim();
  if (!/^[0-9]+$/.test(value)) {
    throw protocol(`tus server answered ${response.status} without a numeric ${name}`);
  }
  return Number(value);
}

/**
 * The offset a `HEAD` reported, which must lie within the `total` bytes of
 * the data: a server claiming bytes the client never had has lost or mixed
 * up the upload, so this is a protocol error, never a finished upload.
 */
function withinTheData(offset, total) {
  if (offset > total) throw protocol(`tus server reports offset ${offset} past the ${total} bytes`);
  return offset;
}

/** `location` (absolute, or a path) resolved against `base`'s origin. */
function resolve(base, location) {
  if (location.includes('://')) return location;
  const schemeEnd = base.indexOf('://');
  const pathStart = schemeEnd < 0 ? -1 : base.indexOf('/', schemeEnd + 3);
  return (pathStart < 0 ? base : base.slice(0, pathStart)) + location;
}

/** A tus upload of `data` (Uint8Array, ArrayBuffer or string). */
export class TusUpload {
  /**
   * `options`, all optional: `chunkSize` (largest `PATCH` body, default
   * 4 MiB; keep it under the policy's `max_body_bytes`), `maxResumes`
   * (failed `PATCH`es resumed before the upload fails, default 5),
   * `onProgress({ sent, total })` (after every chunk the server confirmed,
   * and after every resume; returns 'continue' or nothing, 'pause' or
   * 'cancel'), `signal` (an `AbortSignal`: aborting cancels after the
   * current chunk).
   */
  constructor(data, { chunkSize = 4 * 1024 * 1024, maxResumes = 5, onProgress, signal } = {}) {
    this.#data = bytes(data) ?? new Uint8Array(0);
    this.#chunkSize = Math.max(1, chunkSize);
    this.#maxResumes = maxResumes;
    this.#onProgress = onProgress;
    this.#signal = signal;
  }

  #data;
  #chunkSize;
  #maxResumes;
  #onProgress;
  #signal;
  #asked;

  /** The upload's size in bytes. */
  get size() {
    return this.#data.length;
  }

  /** Pauses after the current chunk (as `onProgress` returning 'pause'). */
  pause() {
    this.#asked = 'pause';
  }

  /** Cancels after the current chunk (as `onProgress` returning 'cancel'). */
  cancel() {
    this.#asked = 'cancel';
  }

  /** Creates the upload at `createUrl` (`POST`) and resolves with its URL. */
  async create(createUrl) {
    const response = await request(createUrl, {
      method: 'POST',
      headers: { 'tus-resumable': TUS_VERSION, 'upload-length': String(this.size) },
    });
    if (response.status !== 201) {
      throw protocol(`tus creation at ${createUrl} answered ${response.status}, expected 201`);
    }
    const location = response.header('location');
    if (location === undefined) throw protocol(`tus creation at ${createUrl} gave no Location`);
    return resolve(createUrl, location);
  }

  /** Creates the upload at `createUrl`, then sends it as `resume` does. */
  async start(createUrl) {
    return this.resume(await this.create(createUrl));
  }

  /**
   * Sends the data to the upload at `url` from the offset the server
   * reports (`HEAD`), one `PATCH` per chunk, resuming a `PATCH` that failed
   * for a transport reason from the offset the server then reports.
   * Resolves with `{ state, url, offset, resumes }`: state 'done', 'paused'
   * (resume later with `resume(url)`) or 'cancelled' (the server deleted
   * the upload); rejects with a `NetError` when the upload fails ('protocol'
   * when the server reports an offset past the data).
   */
  async resume(url) {
    this.#asked = undefined;
    let offset = withinTheData(await TusUpload.offset(url), this.size);
    let resumes = 0;
    while (offset < this.size) {
      try {
        offset = await this.#patch(url, offset);
      } catch (err) {
        if (!(err instanceof NetError) || NOT_RESUMED.has(err.kind) || resumes >= this.#maxResumes) {
          throw err;
        }
        resumes += 1;
        offset = withinTheData(await TusUpload.offset(url), this.size);
      }
      const asked = this.#onProgress?.({ sent: offset, total: this.size });
      if (asked !== undefined && !CONTROLS.includes(asked)) {
        throw new TypeError(`tus onProgress returned ${String(asked)}; return 'continue' (or nothing), 'pause' or 'cancel'`);
      }
      if (asked !== undefined && asked !== 'continue') this.#asked = asked;
      if (this.#asked === 'cancel' || this.#signal?.aborted) {
        await TusUpload.terminate(url);
        return { state: 'cancelled', url, offset, resumes };
      }
      if (this.#asked === 'pause' && offset < this.size) {
        return { state: 'paused', url, offset, resumes };
      }
    }
    return { state: 'done', url, offset, resumes };
  }

  /** Streams the chunk at `at`; resolves with the offset the server confirmed. */
  async #patch(url, at) {
    const end = Math.min(at + this.#chunkSize, this.size);
    const data = this.#data;
    function* pieces() {
      for (let from = at; from < end; from += PIECE) yield data.subarray(from, Math.min(from + PIECE, end));
    }
    const response = await upload(url, {
      method: 'PATCH',
      headers: {
        'tus-resumable': TUS_VERSION,
        'upload-offset': String(at),
        'content-type': 'application/offset+octet-stream',
      },
      body: pieces(),
      totalBytes: end - at,
    });
    try {
      if (response.status !== 204) {
        throw protocol(`tus PATCH at offset ${at} answered ${response.status}, expected 204`);
      }
      const confirmed = number(response, 'upload-offset');
      if (!(confirmed > at && confirmed <= this.size)) {
        throw protocol(`tus PATCH at offset ${at} answered Upload-Offset ${confirmed} (expected more than ${at}, at most ${this.size})`);
      }
      return confirmed;
    } finally {
      response.close();
    }
  }

  /** The server's offset for the upload at `url` (`HEAD`). */
  static async offset(url) {
    const response = await request(url, { method: 'HEAD', headers: { 'tus-resumable': TUS_VERSION } });
    if (response.status < 200 || response.status >= 300) {
      throw protocol(`tus upload ${url} answered HEAD with ${response.status} (gone, or not a tus upload)`);
    }
    return number(response, 'upload-offset');
  }

  /** Deletes the upload at `url` (`DELETE`, tus termination), e.g. a paused one no longer wanted. */
  static async terminate(url) {
    const response = await request(url, { method: 'DELETE', headers: { 'tus-resumable': TUS_VERSION } });
    if (response.status < 200 || response.status >= 300) {
      throw protocol(`tus termination of ${url} answered ${response.status}, expected 204`);
    }
  }
}
