/**
 * `ws-client URL [MESSAGE...]`: a WebSocket conversation through sandnet.
 *
 * Connects to URL (`ws://` or `wss://`), sends each MESSAGE as a text message
 * and prints the reply to each on its own line (binary replies as UTF-8),
 * then closes with code 1000. Exits 0 when every message got a reply, 1 on a
 * `net-error` or when the server closed first, printed to stderr as
 * `ws-client: <error>` (for a denial, the reason and, on a second line, the
 * policy line that would allow the URL). Exits 2 on bad usage.
 *
 * Built by scripts/build-guests.sh with componentize-js, world `script`, into
 * target/guests/js-ws-client.wasm.
 */

import { NetError, WebSocketConnection, main, stderr, stdout } from '../lib/sandnet.js';

const USAGE = 'usage: ws-client URL [MESSAGE...]';

export const run = main(async (args) => {
  if (args.length < 1) {
    stderr.write(`ws-client: ${USAGE}\n`);
    return 2;
  }
  const [url, ...messages] = args;
  try {
    const ws = WebSocketConnection.connect(url);
    for (const text of messages) {
      ws.send(text);
      const reply = await ws.receiveAsync();
      if (reply.type === 'close') {
        stderr.write(`ws-client: server closed the connection: ${reply.code} ${reply.reason}\n`);
        return 1;
      }
      stdout.write(reply.data);
      stdout.write('\n');
    }
    ws.close(1000, 'done');
  } catch (err) {
    if (!(err instanceof NetError)) throw err;
    stderr.write(`ws-client: ${err}\n`);
    return 1;
  }
  return 0;
});
