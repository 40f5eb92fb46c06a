/**
 * `udp-echo server udp-bind://ADDR:PORT [COUNT]` or
 * `udp-echo client udp://HOST:PORT MESSAGE...`: UDP echo through sandnet.
 * Same contract as guests/rust/udp-echo.
 *
 * The server binds (grant needed; port 0 picks a free port), prints
 * `listening on IP:PORT`, sends every datagram back to its sender (which the
 * policy must grant as a destination too) and prints `echoed N bytes to
 * SENDER`; it exits after COUNT datagrams (default: runs until stopped).
 * The client sends each MESSAGE from an ephemeral port (no bind grant) and
 * prints each reply. Exits 1 on a `net-error` (printed to stderr as
 * `udp-echo: <error>`), 2 on bad usage.
 *
 * Optional environment: `UDP_ECHO_TIMEOUT_MS`, the client's wait per reply.
 *
 * Built by scripts/build-guests.sh with componentize-js, world `script`, into
 * target/guests/js-udp-echo.wasm.
 */

import { NetError, UdpSocket, main, stderr, stdout } from '../lib/sandnet.js';

const USAGE =
  'usage: udp-echo server udp-bind://ADDR:PORT [COUNT] | udp-echo client udp://HOST:PORT MESSAGE...';

async function server(address, count) {
  const socket = UdpSocket.bind(address);
  stdout.write(`listening on ${socket.localAddress}\n`);
  for (let echoed = 0; count === undefined || echoed < count; echoed++) {
    const datagram = await socket.receiveAsync(); // waits as long as it takes
    socket.sendTo(`udp://${datagram.sender}`, datagram.data);
    stdout.write(`echoed ${datagram.data.length} bytes to ${datagram.sender}\n`);
  }
}

function client(target, messages, env) {
  const raw = env.UDP_ECHO_TIMEOUT_MS;
  const timeout = raw !== undefined && /^[0-9]+$/.test(raw) && Number(raw) <= 0xffffffff ? Number(raw) : undefined;
  const socket = UdpSocket.ephemeral();
  for (const message of messages) {
    socket.sendTo(target, message);
    const reply = socket.receive(timeout);
    stdout.write(`${UdpSocket.text(reply.data)}\n`);
  }
}

export const run = main(async (args, env) => {
  const [mode, address, ...rest] = args;
  let work;
  if (mode === 'server' && address !== undefined && rest.length === 0) {
    work = () => server(address, undefined);
  } else if (mode === 'server' && address !== undefined && rest.length === 1 && /^[0-9]+$/.test(rest[0])) {
    work = () => server(address, Number(rest[0]));
  } else if (mode === 'client' && address !== undefined && rest.length > 0) {
    work = () => client(address, rest, env);
  } else {
    stderr.write(`udp-echo: ${USAGE}\n`);
    return 2;
  }
  try {
    await work();
  } catch (err) {
    if (!(err instanceof NetError)) throw err;
    stderr.write(`udp-echo: ${err}\n`);
    return 1;
  }
  return 0;
});
