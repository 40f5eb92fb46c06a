/**
 * `tcp-echo-server tcp-listen://ADDR:PORT [COUNT]`: a TCP echo server in a
 * guest. Same contract as guests/rust/tcp-echo-server.
 *
 * Binds the listener (the policy must grant it; port 0 picks a free port),
 * prints `listening on IP:PORT`, then serves every connection at once: one
 * async loop accepts, one per connection echoes, all on the one event loop.
 * Prints `accepted PEER` and `closed PEER`; exits 0 after COUNT connections
 * have closed (default: serve forever), 1 on a `net-error` (printed to
 * stderr as `tcp-echo-server: <error>`), 2 on bad usage.
 *
 * Built by scripts/build-guests.sh with componentize-js, world `script`, into
 * target/guests/js-tcp-echo-server.wasm.
 */

import { NetError, TcpListener, exit, main, stderr, stdout } from '../lib/sandnet.js';

const USAGE = 'usage: tcp-echo-server tcp-listen://ADDR:PORT [COUNT]';

function say(line) {
  stdout.write(`${line}\n`);
}

/** Echoes `stream` until the peer closes its write half (or an error). */
async function echo(stream, peer) {
  try {
    for (;;) {
      const data = await stream.readAsync();
      if (data.length === 0) break;
      stream.write(data);
    }
  } catch (err) {
    if (!(err instanceof NetError)) throw err;
    say(`error from ${peer}: ${err.reason}`);
  }
  stream.close();
  say(`closed ${peer}`);
}

export const run = main(async (args) => {
  if (args.length < 1 || args.length > 2 || (args.length === 2 && !/^[0-9]+$/.test(args[1]))) {
    stderr.write(`tcp-echo-server: ${USAGE}\n`);
    return 2;
  }
  const count = args.length === 2 ? Number(args[1]) : undefined;
  let listener;
  try {
    listener = TcpListener.bind(args[0]);
  } catch (err) {
    if (!(err instanceof NetError)) throw err;
    stderr.write(`tcp-echo-server: ${err}\n`);
    return 1;
  }
  say(`listening on ${listener.localAddress}`);
  let closed = 0;
  for (;;) {
    let stream;
    try {
      stream = await listener.acceptAsync();
    } catch (err) {
      if (!(err instanceof NetError)) throw err;
      say(`accept failed: ${err.reason}`);
      continue;
    }
    const peer = stream.peerAddress;
    say(`accepted ${peer}`);
    echo(stream, peer).then(() => {
      closed += 1;
      if (count !== undefined && closed >= count) exit(0);
    });
  }
});
