/**
 * `Listener`: what `TcpListener` and `WebSocketListener` share, a bound
 * listener resource whose `accept` hands back a connection.
 */

import { net } from './error.js';
import { ready } from './poll.js';

/** A bound listener (the base of `TcpListener` and `WebSocketListener`). */
export class Listener {
  /** `wrap(accepted)` turns what the resource's `accept` returned into the connection object. */
  constructor(raw, wrap) {
    this.#raw = raw;
    this.#wrap = wrap;
  }

  #raw;
  #wrap;

  /** The bound address as `IP:PORT`. */
  get localAddress() {
    return this.#raw.localAddress();
  }

  /** Waits for the next client the policy accepts. Throws `NetError`. */
  accept() {
    return this.#wrap(net(() => this.#raw.accept()));
  }

  /** `accept`, waiting together with timers and other `ready()` waiters. */
  async acceptAsync() {
    await ready(this.#raw.subscribe());
    return this.accept();
  }

  /** Subscribes to client readiness, for `waitAny`. */
  subscribe() {
    return this.#raw.subscribe();
  }

  /** Stops listening. */
  close() {
    this.#raw[Symbol.dispose]();
  }
}
