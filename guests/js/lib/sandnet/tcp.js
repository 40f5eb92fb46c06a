/**
 * TCP over `sandnet:net/tcp`: `TcpStream` to `tcp://` or host-terminated
 * `tls://` targets the policy grants, and `TcpListener` on a
 * `tcp-listen://` grant.
 */

import * as tcp from 'sandnet:net/tcp@0.1.0';

import { bytes, text } from './bytes.js';
import { net } from './error.js';
import { Listener } from './listener.js';
import { ready } from './poll.js';

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
    return text(data);
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

/**
 * A TCP server on a `tcp-listen://ADDR:PORT` grant; accepted peers are
 * filtered by the rule's `peers`. `accept`/`acceptAsync` give a `TcpStream`.
 *
 *     const server = TcpListener.bind('tcp-listen://127.0.0.1:0');
 *     const client = await server.acceptAsync();
 *     client.write(await client.readAsync());
 */
export class TcpListener extends Listener {
  /** Binds through the guard. Throws `NetError`. */
  static bind(address) {
    return new TcpListener(net(() => tcp.Listener.bind(address)), (raw) => new TcpStream(raw));
  }
}
