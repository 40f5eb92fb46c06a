/**
 * The web's `EventSource` over `sandnet:net/sse`: the stream is opened (and
 * checked by the policy) in a task after the constructor returns; events
 * arrive as `message` (or named) events from the one event loop.
 *
 * The host parses the stream and reconnects after a drop (honouring `retry`,
 * sending `Last-Event-ID`), so `readyState` stays OPEN across a reconnection
 * and `error` is dispatched only when the stream ends for good. Opening
 * holds the event loop until the response head arrives (as `WebSocket`'s
 * connect does).
 */

import * as sse from 'sandnet:net/sse@0.1.0';

import { NetError, net } from '../error.js';
import { ready, reportError, schedule } from '../poll.js';
import { stderr } from '../process.js';
import { ErrorEvent, ListenedEventTarget, MessageEvent, eventHandlers } from './events.js';

const CONNECTING = 0;
const OPEN = 1;
const CLOSED = 2;

/**
 * A Server-Sent Events stream as in browsers: `new EventSource(url)`,
 * `readyState`, `url`, `close()`, `open`/`message`/`error` events (and the
 * `on...` attributes), `addEventListener(type)` for named events; each event
 * is a `MessageEvent` with `data` and `lastEventId`. The last id seen is also
 * `lastEventId` on the source. An `error` event is an `ErrorEvent` whose
 * `error` is the `NetError` (e.g. a denial, with the policy line to add);
 * with no `error` listener it is printed to stderr.
 */
export class EventSource extends ListenedEventTarget {
  static CONNECTING = CONNECTING;
  static OPEN = OPEN;
  static CLOSED = CLOSED;

  #url;
  #raw;
  #state = CONNECTING;
  #lastEventId = '';
  #closing = new AbortController();

  constructor(url, init = undefined) {
    super();
    try {
      this.#url = new URL(String(url)).href;
    } catch {
      throw new DOMException(`${url} is not an absolute URL`, 'SyntaxError');
    }
    this.withCredentials = Boolean(init?.withCredentials);
    schedule(() => this.#open());
  }

  get url() {
    return this.#url;
  }

  get readyState() {
    return this.#state;
  }

  /** The id of the last event received ('' before any). */
  get lastEventId() {
    return this.#lastEventId;
  }

  /** Closes the stream; no event is dispatched after this. */
  close() {
    this.#state = CLOSED;
    this.#closing.abort();
    this.#raw?.[Symbol.dispose]();
    this.#raw = undefined;
  }

  #open() {
    if (this.#state === CLOSED) return;
    try {
      this.#raw = net(() => sse.EventStream.open(this.#url, { headers: [], eventTypes: [] }));
    } catch (err) {
      if (!(err instanceof NetError)) throw err;
      this.#fail(err);
      return;
    }
    this.#state = OPEN;
    this.dispatchEvent(new Event('open'));
    this.#receive().catch((err) => {
      if (!this.#closing.signal.aborted) reportError(err);
    });
  }

  /** Delivers events until the stream ends or `close()`. */
  async #receive() {
    const origin = new URL(this.#url).origin;
    while (this.#state === OPEN) {
      await ready(this.#raw.subscribe(), this.#closing.signal);
      let ev;
      try {
        ev = net(() => this.#raw.tryNext());
      } catch (err) {
        if (!(err instanceof NetError)) throw err;
        this.#fail(err);
        return;
      }
      if (ev === undefined) continue;
      this.#lastEventId = ev.id ?? '';
      this.dispatchEvent(
        new MessageEvent(ev.eventType, { data: ev.data, origin, lastEventId: this.#lastEventId }),
      );
    }
  }

  #fail(err) {
    this.close();
    const message = `EventSource ${this.#url} failed: ${err.message}`;
    if (!this.listensFor('error')) stderr.write(`${message}\n`);
    this.dispatchEvent(new ErrorEvent('error', { message, error: err }));
  }
}

for (const [name, value] of Object.entries({ CONNECTING, OPEN, CLOSED })) {
  Object.defineProperty(EventSource.prototype, name, { value, enumerable: true });
}
eventHandlers(EventSource, ['open', 'message', 'error']);
