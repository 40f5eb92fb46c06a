/**
 * The event classes the web's `WebSocket` and `EventSource` dispatch
 * (`MessageEvent`, `CloseEvent`, `ErrorEvent`) on StarlingMonkey's native
 * `Event`, and `eventHandlers`, which gives a class its `onopen`-style
 * attributes, and `ListenedEventTarget`.
 */

/** A message: `data`, `origin`, `lastEventId` (EventSource). */
export class MessageEvent extends Event {
  #data;
  #origin;
  #lastEventId;

  constructor(type, init = {}) {
    super(type, init);
    this.#data = init.data ?? null;
    this.#origin = init.origin ?? '';
    this.#lastEventId = init.lastEventId ?? '';
  }

  get data() {
    return this.#data;
  }

  get origin() {
    return this.#origin;
  }

  get lastEventId() {
    return this.#lastEventId;
  }
}

/** A WebSocket's end: `code`, `reason`, `wasClean`. */
export class CloseEvent extends Event {
  #code;
  #reason;
  #wasClean;

  constructor(type, init = {}) {
    super(type, init);
    this.#code = init.code ?? 0;
    this.#reason = init.reason ?? '';
    this.#wasClean = init.wasClean ?? false;
  }

  get code() {
    return this.#code;
  }

  get reason() {
    return this.#reason;
  }

  get wasClean() {
    return this.#wasClean;
  }
}

/**
 * A failure: `message` and `error`. sandnet passes the `NetError` as `error`,
 * so a denial's reason and policy line reach `onerror` (browsers hide them).
 */
export class ErrorEvent extends Event {
  #message;
  #error;

  constructor(type, init = {}) {
    super(type, init);
    this.#message = init.message ?? '';
    this.#error = init.error;
  }

  get message() {
    return this.#message;
  }

  get error() {
    return this.#error;
  }
}

/**
 * Defines `on<name>` attributes on `cls.prototype` for each event name: the
 * handler set last is called for that event, after listeners added before it
 * was first set (the web's order).
 */
export function eventHandlers(cls, names) {
  for (const name of names) {
    const slot = Symbol(`on${name}`);
    Object.defineProperty(cls.prototype, `on${name}`, {
      configurable: true,
      enumerable: true,
      get() {
        return this[slot]?.handler ?? null;
      },
      set(handler) {
        if (this[slot] === undefined) {
          const holder = { handler: null };
          this[slot] = holder;
          this.addEventListener(name, (event) => holder.handler?.call(this, event));
        }
        this[slot].handler = typeof handler === 'function' ? handler : null;
      },
    });
  }
}

/**
 * An `EventTarget` that remembers which event types anyone listens for, so
 * an error nobody handles can be printed instead of lost.
 */
export class ListenedEventTarget extends EventTarget {
  #types = new Set();

  addEventListener(type, listener, options) {
    if (listener) this.#types.add(String(type));
    super.addEventListener(type, listener, options);
  }

  /** Whether a listener or handler for `type` was ever added. */
  listensFor(type) {
    return this.#types.has(type);
  }
}
