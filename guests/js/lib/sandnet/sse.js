/**
 * Server-Sent Events over `sandnet:net/sse`, sandnet's own API:
 * `EventStream`. The web's `EventSource` is in `web/eventsource.js`.
 */

import * as sse from 'sandnet:net/sse@0.1.0';

import { net } from './error.js';
import { headerList } from './http.js';
import { ready } from './poll.js';

/**
 * A Server-Sent Events stream at an `http://` or `https://` URL the policy
 * grants (an `sse+http://`/`sse+https://` rule, or an `http`/`https` one).
 * Events are `{ type, data, id }` (`id` undefined when the stream has none).
 * The host reconnects after a drop, sending `Last-Event-ID`.
 *
 *     const events = EventStream.open('http://127.0.0.1:8080/events');
 *     for await (const ev of events) console.log(ev.type, ev.data);
 */
export class EventStream {
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
    return new EventStream(raw);
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
