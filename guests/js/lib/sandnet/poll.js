/**
 * The guest's one event loop, over `wasi:io/poll`: timers, queued tasks and
 * Promises waiting on host pollables (`ready`) are all served by one `poll`
 * call that also holds a monotonic-clock pollable for the next timer's
 * deadline, so a timer fires on time while sockets wait and sockets are
 * served while timers are pending. `waitAny` is the blocking form.
 *
 * Each turn of the loop runs one due task (or resolves the pollables that
 * became ready), then hands control back to StarlingMonkey with its native
 * zero-delay timer so every microtask (Promise reaction) runs between tasks,
 * as on the web.
 */

import { now, subscribeInstant } from 'wasi:clocks/monotonic-clock@0.2.12';
import { poll } from 'wasi:io/poll@0.2.12';

/** StarlingMonkey's own timer, used only to yield to its microtask queue. */
const nativeSetTimeout = globalThis.setTimeout;

const NS_PER_MS = 1_000_000n;

/** Promises waiting on a pollable: `{ pollable, resolve, reject, signal, onAbort }`. */
const waiting = [];

/**
 * Scheduled tasks by id: `{ id, deadline (ns), fn, keepsAlive }`; `queue`
 * keeps them in deadline order.
 */
const tasks = new Map();
const queue = [];
let nextTaskId = 1;

let turnScheduled = false;
/** Turns in a row with nothing of ours pending while the program waits. */
let idleTurns = 0;
/** Idle turns granted to StarlingMonkey's own tasks before a wait is declared stuck. */
const MAX_IDLE_TURNS = 1000;
/** Set while a `run` is in progress: `{ settled, finish }`. */
let current;

/** Milliseconds (any number) as a whole, non-negative count of nanoseconds. */
function msToNs(ms) {
  const n = Number(ms);
  return Number.isFinite(n) && n > 0 ? BigInt(Math.floor(n * 1e6)) : 0n;
}

/** Monotonic time in milliseconds, as `performance.now()` would count it. */
export function monotonicMs() {
  return Number(now() / 1000n) / 1000;
}

/**
 * Runs `fn` after `delayMs` (0: as the next task); returns an id for
 * `cancel`. Tasks due at the same time run in the order they were scheduled.
 * A task with `keepsAlive: false` (e.g. an `AbortSignal.timeout`) does not
 * keep the program running when nothing else is left.
 */
export function schedule(fn, delayMs = 0, { keepsAlive = true } = {}) {
  const id = nextTaskId++;
  const task = { id, deadline: now() + msToNs(delayMs), fn, keepsAlive };
  tasks.set(id, task);
  // Insert after every task due at the same time or earlier.
  let at = queue.length;
  while (at > 0 && queue[at - 1].deadline > task.deadline) at--;
  queue.splice(at, 0, task);
  wake();
  return id;
}

/** Cancels a task from `schedule`; unknown or finished ids are ignored. */
export function cancel(id) {
  const task = tasks.get(id);
  if (task === undefined) return;
  tasks.delete(id);
  queue.splice(queue.indexOf(task), 1);
}

/**
 * A Promise that resolves when `pollable` is ready. Every pollable awaited at
 * the same time goes into the same `poll` call, with the timers:
 *
 *     const [a, b] = await Promise.all([fetch(urlA), fetch(urlB)]);
 *
 * `pollable` is consumed (dropped once ready). With an `AbortSignal`, an
 * abort drops it and rejects with the signal's reason.
 */
export function ready(pollable, signal) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      pollable[Symbol.dispose]();
      reject(signal.reason);
      return;
    }
    const waiter = { pollable, resolve, reject, signal, onAbort: undefined };
    if (signal) {
      waiter.onAbort = () => {
        const at = waiting.indexOf(waiter);
        if (at < 0) return;
        waiting.splice(at, 1);
        pollable[Symbol.dispose]();
        reject(signal.reason);
      };
      signal.addEventListener('abort', waiter.onAbort, { once: true });
    }
    waiting.push(waiter);
    wake();
  });
}

/**
 * Blocks until at least one of `resources` (anything with `subscribe()`:
 * responses, streams, connections) would not wait; returns their indices.
 * Timers do not run meanwhile: prefer `ready` in async code.
 */
export function waitAny(resources) {
  const pollables = resources.map((r) => r.subscribe());
  try {
    return Array.from(poll(pollables));
  } finally {
    for (const p of pollables) p[Symbol.dispose]();
  }
}

/**
 * Runs `main` (an async function) as the program: resolves with its result
 * once it has settled and no timer, task or waiting pollable is left, as
 * Deno ends a script. `onError(err)` receives an exception no code caught
 * (from `main`, a timer or an event handler) and ends the loop.
 */
export function run(main, onError) {
  return new Promise((resolve) => {
    const state = { settled: false, value: undefined, done: false };
    state.finish = (value) => {
      if (state.done) return;
      state.done = true;
      current = undefined;
      resolve(value);
    };
    state.fail = (err) => {
      onError(err);
      state.finish(undefined);
    };
    current = state;
    schedule(() => {
      Promise.resolve()
        .then(main)
        .then(
          (value) => {
            state.settled = true;
            state.value = value;
            wake();
          },
          (err) => state.fail(err),
        );
    });
  });
}

/** Reports an exception thrown by a task or an event handler: it ends the run. */
export function reportError(err) {
  if (current) {
    current.fail(err);
  } else {
    throw err;
  }
}

function wake() {
  if (turnScheduled) return;
  turnScheduled = true;
  nativeSetTimeout(turn, 0);
}

/** One turn: a due task, else wait for the first pollable or deadline. */
function turn() {
  turnScheduled = false;
  if (queue.length > 0 && queue[0].deadline <= now()) {
    const task = queue.shift();
    tasks.delete(task.id);
    idleTurns = 0;
    wake();
    try {
      task.fn();
    } catch (err) {
      reportError(err);
    }
    return;
  }
  if (waiting.length === 0 && !queue.some((task) => task.keepsAlive)) {
    // Without `run` (a hand-written `run` export), the loop just stops.
    if (current?.settled) current.finish(current.value);
    if (current === undefined || current.done) return;
  }
  const pollables = waiting.map((w) => w.pollable);
  let clock;
  if (queue.length > 0) {
    clock = subscribeInstant(queue[0].deadline);
    pollables.push(clock);
  }
  if (pollables.length === 0) {
    // Nothing of ours is pending, yet the program waits: StarlingMonkey may
    // still be working (it pumps a FormData or Blob body in its own tasks).
    // Give it turns; a program still waiting after that waits forever.
    if (++idleTurns <= MAX_IDLE_TURNS) {
      turnScheduled = true;
      nativeSetTimeout(turn, 0);
      return;
    }
    current?.fail(
      new Error('the program awaits a Promise that nothing can settle: no timer, task or I/O is pending'),
    );
    return;
  }
  idleTurns = 0;
  const readyIndices = new Set(poll(pollables));
  clock?.[Symbol.dispose]();
  const resolved = [];
  for (let i = waiting.length - 1; i >= 0; i--) {
    if (readyIndices.has(i)) resolved.push(...waiting.splice(i, 1));
  }
  for (const w of resolved.reverse()) {
    w.pollable[Symbol.dispose]();
    w.signal?.removeEventListener('abort', w.onAbort);
    w.resolve();
  }
  wake();
}
