/**
 * The web's `fetch` over `sandnet:net/http`: StarlingMonkey's own `Request`,
 * `Headers` and `Response` classes, with every request sent through the
 * host's policy by `send` and its pending-response pollable (so requests run
 * concurrently on the one event loop) and the body delivered as a
 * `ReadableStream` read chunk by chunk from the host. A `FormData` body is
 * streamed as multipart/form-data (`MultipartBody` in `../http.js`); as the
 * host never replays a streamed body, a redirect answer to it is returned
 * as is.
 */

import * as http from 'sandnet:net/http@0.1.0';

import { NetError, net } from '../error.js';
import { MultipartBody, isFormData, method, writeBody } from '../http.js';
import { ready } from '../poll.js';

/** Redirects followed for `redirect: 'follow'` (the web's cap); the policy's `max_redirects` may lower it. */
const FOLLOW_REDIRECTS = 20;
/** Largest body chunk asked of the host per read. */
const CHUNK_BYTES = 65536;
/**
 * Headers the host sets itself and refuses from the guest; StarlingMonkey's
 * `Request` adds `content-length` for a body, so they are left out here.
 */
const HOST_MANAGED_HEADERS = new Set(['content-length', 'host', 'transfer-encoding']);
/** Statuses whose response has no body, whatever the server sent. */
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

/**
 * A network failure as the web reports it: a `TypeError` whose message is
 * the `NetError`'s (reason, and for a denial the policy line to add) and
 * whose `cause` is the `NetError` itself.
 */
export function networkError(err) {
  if (!(err instanceof NetError)) return err;
  return new TypeError(`fetch failed: ${err.message}`, { cause: err });
}

/**
 * Fetches `input` (a URL, string or `Request`) with `init` as the web's
 * `fetch` does: resolves with a `Response` once the head has arrived, its
 * body streamed from the host. sandnet extras in `init`: `timeoutMs`
 * (whole exchange), `connectTimeoutMs`, `firstByteTimeoutMs`. For upload
 * progress use sandnet's `upload`, which takes the same `FormData`.
 */
export async function fetch(input, init = undefined) {
  // A FormData body is streamed by sandnet (`MultipartBody`), not serialised
  // into one buffer by the Request.
  const form = isFormData(init?.body) ? new MultipartBody(init.body) : undefined;
  const request = new Request(input, form ? { ...init, body: undefined } : init);
  const signal = init?.signal ?? request.signal;
  signal?.throwIfAborted();
  const body = request.body === null ? undefined : new Uint8Array(await request.arrayBuffer());
  const redirect = init?.redirect ?? request.redirect ?? 'follow';
  const options = {
    connectTimeoutMs: init?.connectTimeoutMs,
    firstByteTimeoutMs: init?.firstByteTimeoutMs,
    totalTimeoutMs: init?.timeoutMs,
    maxRedirects: redirect === 'follow' && !form ? FOLLOW_REDIRECTS : 0,
  };
  const headers = Array.from(request.headers).filter(([name]) => !HOST_MANAGED_HEADERS.has(name));
  const wire = { method: method(request.method), url: request.url, headers, body };
  let incoming;
  const pending = form ? await sendForm(wire, form, options, signal) : wrap(() => http.send(wire, options));
  try {
    for (;;) {
      const outcome = pending.get();
      if (outcome !== undefined) {
        if (outcome.tag === 'err') throw networkError(NetError.fromWit(outcome.val));
        incoming = outcome.val;
        break;
      }
      await ready(pending.subscribe(), signal);
    }
  } finally {
    pending[Symbol.dispose]();
  }
  const status = incoming.status();
  if (redirect === 'error' && status >= 300 && status < 400) {
    incoming[Symbol.dispose]();
    throw new TypeError(`fetch failed: ${request.url} answered ${status} and redirect is 'error'`);
  }
  const hasBody = request.method !== 'HEAD' && !NULL_BODY_STATUSES.has(status);
  const response = new Response(hasBody ? bodyStream(incoming, signal) : null, {
    status,
    statusText: incoming.reason(),
    headers: incoming.headers(),
  });
  const url = incoming.url();
  if (!hasBody) incoming[Symbol.dispose]();
  Object.defineProperty(response, 'url', { value: url });
  Object.defineProperty(response, 'redirected', { value: url !== request.url });
  return response;
}

/**
 * Starts `wire` as a streamed upload of `form` (its content-type replacing
 * any other, its length as content-length); resolves with the pending
 * response once the body is written.
 */
async function sendForm(wire, form, options, signal) {
  wire.headers = [...wire.headers.filter(([name]) => name.toLowerCase() !== 'content-type'),
    ['content-type', form.contentType]];
  const out = wrap(() => http.upload(wire, BigInt(form.totalBytes), options));
  try {
    return await writeBody(out, form.chunks(), undefined, signal);
  } catch (err) {
    throw networkError(err);
  }
}

/** Calls a generated import, reporting a `net-error` as the web's `TypeError`. */
function wrap(call) {
  try {
    return net(call);
  } catch (err) {
    throw networkError(err);
  }
}

/** The body of `incoming` as a stream; cancelling it (or an abort) drops the request. */
function bodyStream(incoming, signal) {
  let open = true;
  const close = () => {
    if (open) {
      open = false;
      incoming[Symbol.dispose]();
    }
  };
  return new ReadableStream({
    async pull(controller) {
      try {
        await ready(incoming.subscribe(), signal);
        const chunk = wrap(() => incoming.read(CHUNK_BYTES));
        if (chunk === undefined) {
          close();
          controller.close();
        } else {
          controller.enqueue(new Uint8Array(chunk));
        }
      } catch (err) {
        close();
        controller.error(err);
      }
    },
    cancel() {
      close();
    },
  });
}
