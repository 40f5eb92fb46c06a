/**
 * `setTimeout`, `setInterval`, `clearTimeout` and `clearInterval` as on the
 * web, on the event loop of `../poll.js` (so they fire on time while sockets
 * wait, unlike StarlingMonkey's own timers, which only run between polls).
 */

import { cancel, schedule } from '../poll.js';

/** Timer id (what the web API hands out) to the id of its pending task. */
const pending = new Map();
let nextTimerId = 1;

/** A handler as a function: a string is compiled as global code, as browsers do. */
function callable(handler) {
  if (typeof handler === 'function') return handler;
  const source = String(handler);
  return () => (0, eval)(source);
}

function start(handler, delay, args, repeat) {
  const fn = callable(handler);
  const id = nextTimerId++;
  const ms = Math.max(0, Number(delay) || 0);
  const fire = () => {
    if (repeat) {
      pending.set(id, schedule(fire, ms));
    } else {
      pending.delete(id);
    }
    fn(...args);
  };
  pending.set(id, schedule(fire, ms));
  return id;
}

function clear(id) {
  const task = pending.get(id);
  if (task === undefined) return;
  pending.delete(id);
  cancel(task);
}

/** Runs `handler(...args)` once after `delay` ms; returns an id for `clearTimeout`. */
export function setTimeout(handler, delay = 0, ...args) {
  return start(handler, delay, args, false);
}

/** Runs `handler(...args)` every `delay` ms; returns an id for `clearInterval`. */
export function setInterval(handler, delay = 0, ...args) {
  return start(handler, delay, args, true);
}

/** Cancels a `setTimeout` (or `setInterval`: the ids are shared, as on the web). */
export function clearTimeout(id) {
  clear(id);
}

/** Cancels a `setInterval` (or `setTimeout`). */
export function clearInterval(id) {
  clear(id);
}
