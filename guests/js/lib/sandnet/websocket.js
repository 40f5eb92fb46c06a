/**
 * WebSocket over `sandnet:net/websocket`, sandnet's own API:
 * `WebSocketConnection` (a client to a `ws://` or `wss://` URL the policy
 * grants, or a client accepted by a listener) and `WebSocketListener` (a
 * server on a `ws-listen://` grant). The web's `WebSocket` is in
 * `web/websocket.js`.
 */

import * as websocket from 'sandnet:net/websocket@0.1.0';

import { bytes } from './bytes.js';
import { net } from './error.js';
import { Listener } from './listener.js';
import { headerList } from './http.js';
import { ready } from './poll.js';

/**
 * A WebSocket client connection to a `ws://` or `wss://` URL the policy grants.
 * Messages are `{ type: 'text', data: string }`, `{ type: 'binary', data:
 * Uint8Array }` or `{ type: 'close', code, reason }`.
 *
 *     const ws = WebSocketConnection.connect('ws://127.0.0.1:9000/chat');
 *     ws.send('hello');
 *     for await (const msg of ws) console.log(msg.data);
 */
export class WebSocketConnection {
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
    return new WebSocketConnection(raw);
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

  /** Drops the connection without a close handshake. */
  dispose() {
    this.#raw[Symbol.dispose]();
  }
}

/**
 * A WebSocket server on a `ws-listen://ADDR:PORT` grant. `accept` /
 * `acceptAsync` give `{ connection, peer }` (a `WebSocketConnection` and the
 * client's `IP:PORT`).
 *
 *     const server = WebSocketListener.bind('ws-listen://127.0.0.1:9000');
 *     const { connection, peer } = await server.acceptAsync();
 */
export class WebSocketListener extends Listener {
  /** Binds `ws-listen://ADDR:PORT` through the guard. Throws `NetError`. */
  static bind(address) {
    return new WebSocketListener(net(() => websocket.Listener.bind(address)), ([raw, peer]) => ({
      connection: new WebSocketConnection(raw),
      peer,
    }));
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
