/**
 * The web's `WebSocket` over `sandnet:net/websocket`: the connection is made
 * (and checked by the policy) in a task after the constructor returns, then
 * messages arrive as `message` events from the one event loop.
 *
 * One difference from a browser: the connect call itself (TCP, TLS and the
 * handshake) holds the event loop until it completes, because the interface
 * has no pending-connect resource; timers due meanwhile fire right after.
 */

import * as websocket from 'sandnet:net/websocket@0.1.0';

import { bytes } from '../bytes.js';
import { NetError, net } from '../error.js';
import { ready, reportError, schedule } from '../poll.js';
import { stderr } from '../process.js';
import { CloseEvent, ErrorEvent, ListenedEventTarget, MessageEvent, eventHandlers } from './events.js';

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;
/** Close code for a connection that ended without a close frame. */
const ABNORMAL_CLOSURE = 1006;
/** Longest close reason in UTF-8 bytes (RFC 6455 §5.5). */
const MAX_REASON_BYTES = 123;

/** `url` as an absolute `ws:`/`wss:` URL (`http:`/`https:` map to them), per the web's rules. */
function socketUrl(url) {
  let parsed;
  try {
    parsed = new URL(String(url));
  } catch {
    throw new DOMException(`${url} is not an absolute URL`, 'SyntaxError');
  }
  if (parsed.protocol === 'http:') parsed.protocol = 'ws:';
  if (parsed.protocol === 'https:') parsed.protocol = 'wss:';
  if (parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:') {
    throw new DOMException(`${url}: the scheme must be ws: or wss:`, 'SyntaxError');
  }
  if (parsed.hash !== '') {
    throw new DOMException(`${url}: a WebSocket URL has no fragment`, 'SyntaxError');
  }
  return parsed.href;
}

function subprotocols(protocols) {
  const list = protocols === undefined ? [] : typeof protocols === 'string' ? [protocols] : Array.from(protocols, String);
  if (new Set(list).size !== list.length) {
    throw new DOMException(`subprotocols ${JSON.stringify(list)} repeat a name`, 'SyntaxError');
  }
  return list;
}

/**
 * A WebSocket client as in browsers: `new WebSocket(url, protocols)`,
 * `readyState`, `binaryType` ("blob" or "arraybuffer"), `send`,
 * `close(code, reason)`, `open`/`message`/`error`/`close` events (and the
 * `on...` attributes). An `error` event is an `ErrorEvent` whose `error` is
 * the `NetError` (e.g. a denial, with the policy line to add); with no
 * `error` listener it is printed to stderr.
 */
export class WebSocket extends ListenedEventTarget {
  static CONNECTING = CONNECTING;
  static OPEN = OPEN;
  static CLOSING = CLOSING;
  static CLOSED = CLOSED;

  #url;
  #raw;
  #state = CONNECTING;
  #protocol = '';
  #binaryType = 'blob';
  #bufferedAmount = 0;
  /** Sends waiting for a Blob's bytes, in order. */
  #sending = Promise.resolve();
  #queuedSends = 0;

  constructor(url, protocols = undefined) {
    super();
    this.#url = socketUrl(url);
    const offered = subprotocols(protocols);
    schedule(() => this.#connect(offered));
  }

  get url() {
    return this.#url;
  }

  get readyState() {
    return this.#state;
  }

  get protocol() {
    return this.#protocol;
  }

  get extensions() {
    return '';
  }

  get bufferedAmount() {
    return this.#bufferedAmount;
  }

  get binaryType() {
    return this.#binaryType;
  }

  set binaryType(type) {
    if (type === 'blob' || type === 'arraybuffer') this.#binaryType = type;
  }

  /** Sends a string as a text message, or bytes (ArrayBuffer, view, Blob) as a binary one. */
  send(data) {
    if (this.#state === CONNECTING) {
      throw new DOMException('send() before the WebSocket is open', 'InvalidStateError');
    }
    const isBlob = data instanceof Blob;
    if (this.#state !== OPEN) {
      this.#bufferedAmount += isBlob ? data.size : bytes(data).length;
      return;
    }
    if (isBlob || this.#queuedSends > 0) {
      this.#queuedSends++;
      this.#sending = this.#sending.then(async () => {
        const payload = isBlob ? new Uint8Array(await data.arrayBuffer()) : data;
        this.#queuedSends--;
        this.#sendNow(payload);
      });
      return;
    }
    this.#sendNow(data);
  }

  #sendNow(data) {
    if (this.#state !== OPEN) return;
    try {
      if (typeof data === 'string') {
        net(() => this.#raw.sendText(data));
      } else {
        net(() => this.#raw.sendBinary(bytes(data)));
      }
    } catch (err) {
      // The receive side reports how the connection ended.
      if (!(err instanceof NetError)) throw err;
    }
  }

  /** Starts the closing handshake with `code` (1000 or 3000-4999) and `reason`. */
  close(code = undefined, reason = undefined) {
    if (code !== undefined && code !== 1000 && !(code >= 3000 && code <= 4999)) {
      throw new DOMException(`close code ${code} is neither 1000 nor in 3000-4999`, 'InvalidAccessError');
    }
    const why = reason === undefined ? '' : String(reason);
    if (bytes(why).length > MAX_REASON_BYTES) {
      throw new DOMException(`close reason is longer than ${MAX_REASON_BYTES} UTF-8 bytes`, 'SyntaxError');
    }
    if (this.#state === CLOSING || this.#state === CLOSED) return;
    const wasConnecting = this.#state === CONNECTING;
    this.#state = CLOSING;
    if (wasConnecting) return; // #connect sees it and fails the connection
    try {
      net(() => this.#raw.close(code ?? 1000, why));
    } catch (err) {
      if (!(err instanceof NetError)) throw err;
    }
  }

  #connect(offered) {
    if (this.#state !== CONNECTING) {
      this.#fail(new NetError('closed', 'close() was called before the connection opened'));
      return;
    }
    try {
      this.#raw = net(() =>
        websocket.Connection.connect(this.#url, { headers: [], subprotocols: offered }),
      );
    } catch (err) {
      if (!(err instanceof NetError)) throw err;
      this.#fail(err);
      return;
    }
    this.#protocol = this.#raw.subprotocol() ?? '';
    this.#state = OPEN;
    this.dispatchEvent(new Event('open'));
    this.#receive().catch(reportError);
  }

  /** Delivers messages until the connection ends. */
  async #receive() {
    for (;;) {
      await ready(this.#raw.subscribe());
      let msg;
      try {
        msg = net(() => this.#raw.tryReceive());
      } catch (err) {
        if (!(err instanceof NetError)) throw err;
        this.#fail(err);
        return;
      }
      if (msg === undefined) continue;
      if (msg.tag === 'close') {
        this.#end({ code: msg.val.code, reason: msg.val.reason, wasClean: true });
        return;
      }
      if (this.#state !== OPEN && this.#state !== CLOSING) return;
      this.dispatchEvent(new MessageEvent('message', { data: this.#data(msg), origin: new URL(this.#url).origin }));
    }
  }

  #data({ tag, val }) {
    if (tag === 'text') return val;
    const copy = new Uint8Array(val);
    return this.#binaryType === 'arraybuffer' ? copy.buffer : new Blob([copy]);
  }

  /** Ends the connection abnormally: an `error` event, then `close` (1006). */
  #fail(err) {
    this.#state = CLOSED;
    const message = `WebSocket connection to ${this.#url} failed: ${err.message}`;
    if (!this.listensFor('error')) stderr.write(`${message}\n`);
    this.dispatchEvent(new ErrorEvent('error', { message, error: err }));
    this.#end({ code: ABNORMAL_CLOSURE, reason: '', wasClean: false });
  }

  #end(init) {
    this.#state = CLOSED;
    this.#raw?.[Symbol.dispose]();
    this.#raw = undefined;
    this.dispatchEvent(new CloseEvent('close', init));
  }
}

for (const [name, value] of Object.entries({ CONNECTING, OPEN, CLOSING, CLOSED })) {
  Object.defineProperty(WebSocket.prototype, name, { value, enumerable: true });
}
eventHandlers(WebSocket, ['open', 'message', 'error', 'close']);
