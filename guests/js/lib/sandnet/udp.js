/**
 * UDP over `sandnet:net/udp`: `UdpSocket`; destinations checked by the host,
 * senders filtered by the policy.
 */

import * as udp from 'sandnet:net/udp@0.1.0';

import { bytes, text } from './bytes.js';
import { net } from './error.js';
import { ready } from './poll.js';

/**
 * A UDP socket. Datagrams are `{ data: Uint8Array, sender: 'IP:PORT' }`.
 *
 *     const s = UdpSocket.ephemeral();
 *     s.sendTo('udp://127.0.0.1:7008', 'hello');
 *     console.log(UdpSocket.text(s.receive().data));
 */
export class UdpSocket {
  constructor(raw) {
    this.#raw = raw;
  }

  #raw;

  /** Binds `udp-bind://ADDR:PORT` (needs a grant). Throws `NetError`. */
  static bind(address) {
    return new UdpSocket(net(() => udp.Socket.bind(address)));
  }

  /** Binds an ephemeral port (no grant needed), for sending and reading replies. */
  static ephemeral() {
    return new UdpSocket(net(() => udp.Socket.bind(undefined)));
  }

  /** Decodes a datagram's bytes as UTF-8. */
  static text(data) {
    return text(data);
  }

  /** The bound address as `IP:PORT`. */
  get localAddress() {
    return this.#raw.localAddress();
  }

  /** Sends `data` (string or bytes) to `udp://host:port`. */
  sendTo(target, data) {
    net(() => this.#raw.sendTo(target, bytes(data)));
  }

  /**
   * Waits for the next datagram from a sender the policy accepts, at most
   * `timeoutMs` (default and maximum: the policy's `read_timeout`).
   */
  receive(timeoutMs) {
    return net(() => this.#raw.receive(timeoutMs));
  }

  /** Waits (with other `ready()` waiters, as long as it takes), then `receive`. */
  async receiveAsync(timeoutMs) {
    await ready(this.#raw.subscribe());
    return this.receive(timeoutMs);
  }

  /**
   * Joins multicast `group` (an IP; needs a `udp-multicast://` grant), on
   * `iface` (a local IP) or the default interface.
   */
  joinMulticast(group, iface = undefined) {
    net(() => this.#raw.joinMulticast(group, iface));
  }

  /** Leaves multicast `group`. */
  leaveMulticast(group, iface = undefined) {
    net(() => this.#raw.leaveMulticast(group, iface));
  }

  /** Allows sending to broadcast addresses (needs a broadcast grant). */
  setBroadcast(enabled) {
    net(() => this.#raw.setBroadcast(enabled));
  }

  /** Subscribes to datagram readiness, for `waitAny`. */
  subscribe() {
    return this.#raw.subscribe();
  }

  /** Closes the socket. */
  close() {
    this.#raw[Symbol.dispose]();
  }
}
