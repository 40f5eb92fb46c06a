/**
 * The run itself: arguments, environment, byte-exact output, exit status, and
 * `main`, the `wasi:cli/run` export that drives the event loop.
 */

import { getArguments, getEnvironment } from 'wasi:cli/environment@0.2.12';
import { exitWithCode } from 'wasi:cli/exit@0.2.12';
import { getStderr } from 'wasi:cli/stderr@0.2.12';
import { getStdout } from 'wasi:cli/stdout@0.2.12';

import { bytes } from './bytes.js';
import { run as runLoop } from './poll.js';

/** The run's arguments, without the program name. */
export function args() {
  return getArguments().slice(1);
}

/** The environment the policy passes, as an object. */
export function env() {
  return Object.fromEntries(getEnvironment());
}

/** Largest write `blocking-write-and-flush` accepts. */
const MAX_WRITE = 4096;

class Output {
  constructor(open) {
    this.#open = open;
  }

  #open;
  #stream;

  /** Writes `data` (string as UTF-8, or bytes) verbatim and flushes it. */
  write(data) {
    const all = bytes(data);
    this.#stream ??= this.#open();
    for (let at = 0; at < all.length; at += MAX_WRITE) {
      this.#stream.blockingWriteAndFlush(all.subarray(at, at + MAX_WRITE));
    }
  }
}

/** Standard output, byte-exact (console.log always adds a newline). */
export const stdout = new Output(getStdout);
/** Standard error. */
export const stderr = new Output(getStderr);

/** Ends the run now with status `code` (0-255). */
export function exit(code) {
  exitWithCode(code);
}

/** Prints an exception no code caught, as Deno does. */
function printUncaught(err) {
  const text = err instanceof Error ? (err.stack ? `${err}\n${err.stack}` : `${err}`) : `${err}`;
  const cause = err instanceof Error && err.cause !== undefined ? `\ncaused by: ${err.cause}` : '';
  stderr.write(`error: Uncaught ${text}${cause}\n`);
}

/**
 * The `wasi:cli/run` export for `fn(args, env)`, which may be async:
 * `export const run = main(async (args, env) => ...)`.
 *
 * The run lasts until `fn` has settled and no timer, connection or request
 * is left (the event loop of `poll.js`). A returned number is the exit
 * status. An exception nobody caught (from `fn`, a timer or an event
 * handler) is printed to stderr and exits 1.
 */
export function main(fn) {
  return {
    async run() {
      let failed = false;
      const code = await runLoop(
        () => fn(args(), env()),
        (err) => {
          failed = true;
          printUncaught(err);
        },
      );
      if (failed) exit(1);
      if (typeof code === 'number' && code !== 0) exit(code);
    },
  };
}
