/**
 * Waiting on several resources at once, over `wasi:io/poll`: `ready` (a
 * Promise per pollable; all pending ones share one `poll` call) and `waitAny`
 * (the blocking form over anything with `subscribe()`).
 */

import { poll } from 'wasi:io/poll@0.2.12';

/** Pollables waited on by pending `ready()` promises. */
const waiting = [];
let draining = false;

/**
 * A Promise that resolves when `pollable` is ready. All pollables awaited at
 * the same time are handed to one `wasi:io/poll.poll` call, so requests and
 * streams in flight together are waited on together:
 *
 *     const [a, b] = await Promise.all([send(urlA), send(urlB)]);
 *
 * `pollable` is consumed (dropped once ready).
 */
export function ready(pollable) {
  return new Promise((resolve) => {
    waiting.push({ pollable, resolve });
    if (!draining) {
      draining = true;
      setTimeout(drain, 0);
    }
  });
}

/** Blocks in `poll` until some waiters are ready, resolves them, repeats. */
function drain() {
  const ready = poll(waiting.map((w) => w.pollable));
  const done = new Set(ready);
  const resolved = [];
  for (let i = waiting.length - 1; i >= 0; i--) {
    if (done.has(i)) {
      resolved.push(waiting[i]);
      waiting.splice(i, 1);
    }
  }
  for (const w of resolved) {
    w.pollable[Symbol.dispose]();
    w.resolve();
  }
  // Let the resolved promises run (and perhaps add waiters) before polling again.
  if (waiting.length > 0) {
    setTimeout(drain, 0);
  } else {
    draining = false;
  }
}

/**
 * Blocks until at least one of `resources` (anything with `subscribe()`:
 * responses, streams, connections) would not wait; returns their indices.
 */
export function waitAny(resources) {
  const pollables = resources.map((r) => r.subscribe());
  try {
    return Array.from(poll(pollables));
  } finally {
    for (const p of pollables) p[Symbol.dispose]();
  }
}
