/**
 * `tcp-client URL [MESSAGE]`: one TCP exchange through sandnet.
 *
 * Connects to URL (`tcp://host:port`, or `tls://host:port` with TLS done by
 * the host), writes MESSAGE if given, closes the write half, then prints
 * everything the peer sends until it closes, verbatim. Exits 0 after the peer
 * closed, 1 on a `net-error`, printed to stderr as `tcp-client: <error>` (for
 * a denial, the reason and, on a second line, the policy line that would
 * allow the address). Exits 2 on bad usage.
 *
 * Built by scripts/build-guests.sh with componentize-js, world `script`, into
 * target/guests/js-tcp-client.wasm.
 */

import { NetError, TcpStream, main, stderr, stdout } from '../lib/sandnet.js';

const USAGE = 'usage: tcp-client URL [MESSAGE]';

export const run = main(async (args) => {
  if (args.length < 1 || args.length > 2) {
    stderr.write(`tcp-client: ${USAGE}\n`);
    return 2;
  }
  const [url, message] = args;
  try {
    const stream = TcpStream.connect(url);
    if (message !== undefined) stream.write(message);
    stream.shutdown();
    for (;;) {
      const chunk = await stream.readAsync();
      if (chunk.length === 0) break;
      stdout.write(chunk);
    }
    stream.close();
  } catch (err) {
    if (!(err instanceof NetError)) throw err;
    stderr.write(`tcp-client: ${err}\n`);
    return 1;
  }
  return 0;
});
