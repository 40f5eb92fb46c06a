/**
 * `NetError`: the `net-error` of `sandnet:net/types` as an exception, and
 * `net`, the one place a generated import's thrown `net-error` becomes one.
 */

/**
 * A `net-error` from the host: the call reached no response.
 *
 * - `kind`: the WIT case name: "denied", "dns", "connect", "tls", "timeout",
 *   "closed", "limit-exceeded", "protocol" or "invalid-argument";
 * - `reason`: the message; for "timeout" the deadline ("connect",
 *   "first-byte", "total", "idle"); for "limit-exceeded" e.g.
 *   "max_body_bytes (10485760)";
 * - `suggestion`: for "denied", the policy line that would allow the target
 *   (undefined when a deny rule matched);
 * - `ruleLine`: for "denied", the policy line whose rule decided, if any;
 * - `limit`: for "limit-exceeded", `{ name, value }` (value is a BigInt).
 *
 * `message` (and `String(err)`) is one actionable line, plus for a denial a
 * second line: `hint: add to the policy's allow list: "..."`.
 */
export class NetError extends Error {
  constructor(kind, reason, { suggestion, ruleLine, limit } = {}) {
    let message = `${kind}: ${reason}`;
    if (suggestion !== undefined) {
      message += `\nhint: add to the policy's allow list: ${suggestion}`;
    }
    super(message);
    this.name = 'NetError';
    this.kind = kind;
    this.reason = reason;
    this.suggestion = suggestion;
    this.ruleLine = ruleLine;
    this.limit = limit;
  }

  /** Converts the generated `net-error` value (`{ tag, val }`). */
  static fromWit({ tag, val }) {
    switch (tag) {
      case 'denied':
        return new NetError(tag, val.reason, {
          suggestion: val.suggestion,
          ruleLine: val.ruleLine,
        });
      case 'limit-exceeded':
        return new NetError(tag, `${val.name} (${val.value})`, { limit: val });
      default: // dns, connect, tls, timeout (val is the kind), closed, ...
        return new NetError(tag, String(val));
    }
  }

  /** Whether the policy refused the call. */
  get denied() {
    return this.kind === 'denied';
  }

  toString() {
    return this.message;
  }
}

/**
 * Calls a generated import, turning its thrown `net-error` into a `NetError`.
 * componentize-js throws an Error whose `payload` is the WIT error value.
 */
export function net(call) {
  try {
    return call();
  } catch (err) {
    if (err && typeof err === 'object' && err.payload && typeof err.payload.tag === 'string') {
      throw NetError.fromWit(err.payload);
    }
    throw err;
  }
}
