/**
 * `conformance CASE TARGET`: one case of the shared guest-library contract,
 * written the way a JavaScript user would: the web platform (`fetch`,
 * `WebSocket`, `EventSource`, `AbortSignal.timeout`) where the web has it,
 * sandnet's own API (`upload`, `TcpStream`, `UdpSocket`) where it does not.
 * tests/it/guests.rs runs every case against loopback servers. Each case
 * prints its findings on stdout, one per line:
 *
 * - `get-json URL`: `STATUS CONTENT-TYPE` then `hello=VALUE n=VALUE`
 * - `post-json URL` (an echo of `METHOD BODY`): `STATUS METHOD JSON`
 * - `form URL` (an echo of `METHOD BODY`): `STATUS` then the multipart
 *   body's lines joined by `|`, the boundary lines written `BOUNDARY`/`END`
 * - `headers URL` (an echo of the request headers): `x-conformance: yes`
 * - `denied URL`: exits 1; stderr `conformance: ERROR-NAME: MESSAGE`
 * - `timeout URL` (never answers): `abort TimeoutError`, then
 *   `net timeout` (sandnet's own deadline, `timeoutMs`)
 * - `download URL`: `BYTES bytes in CHUNKS chunks`
 * - `upload URL` (an echo): `STATUS` then the progress `SENT/TOTAL,...`
 *   then the echoed length
 * - `ws URL` (echoes; closes 4000 on "close-me"): `echo hello` then
 *   `close CODE REASON WAS-CLEAN`
 * - `sse URL` (two events, a reconnection between them): `DATA ID` twice
 * - `tcp URL` (uppercases lines): the answer to `hello`
 * - `udp TARGET` (echoes datagrams): the echo of `ping`
 *
 * Exits 1 with `conformance: ERROR` on stderr when a case fails, 2 on bad
 * usage. Built by scripts/build-guests.sh into target/guests/js-conformance.wasm.
 */

import { TcpStream, UdpSocket, main, stderr, upload } from '../lib/sandnet.js';

/** Seconds for a case that waits on something that never answers. */
const SHORT_TIMEOUT_MS = 300;
const UPLOAD_CHUNK = new Uint8Array(65536).fill(0x61);

const cases = {
  async 'get-json'(url) {
    const response = await fetch(url);
    const body = await response.json();
    console.log(`${response.status} ${response.headers.get('Content-Type')}`);
    console.log(`hello=${body.hello} n=${body.n}`);
  },

  async 'post-json'(url) {
    const sent = { name: 'sandnet', list: [1, true, 'ü'] };
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(sent),
    });
    const text = await response.text();
    const [method, json] = [text.slice(0, text.indexOf(' ')), text.slice(text.indexOf(' ') + 1)];
    console.log(`${response.status} ${method} ${JSON.stringify(JSON.parse(json))}`);
  },

  async form(url) {
    const form = new FormData();
    form.append('field', 'value ü');
    const response = await fetch(url, { method: 'POST', body: form });
    const lines = (await response.text()).slice('POST '.length).split('\r\n');
    const boundary = lines[0];
    const shown = lines.map((l) => (l === boundary ? 'BOUNDARY' : l === `${boundary}--` ? 'END' : l));
    console.log(`${response.status}`);
    console.log(shown.join('|'));
  },

  async headers(url) {
    const headers = new Headers({ 'X-Conformance': 'yes' });
    const response = await fetch(new Request(url, { headers }));
    for (const line of (await response.text()).split('\n')) {
      if (line.startsWith('x-conformance')) console.log(line);
    }
  },

  async denied(url) {
    await fetch(url);
  },

  async timeout(url) {
    try {
      await fetch(url, { signal: AbortSignal.timeout(SHORT_TIMEOUT_MS) });
    } catch (err) {
      console.log(`abort ${err.name}`);
    }
    try {
      await fetch(url, { timeoutMs: SHORT_TIMEOUT_MS });
    } catch (err) {
      console.log(`net ${err.cause?.kind}`);
    }
  },

  async download(url) {
    const response = await fetch(url);
    const reader = response.body.getReader();
    let bytes = 0;
    let chunks = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      bytes += value.length;
      chunks += 1;
    }
    console.log(`${bytes} bytes in ${chunks} chunks`);
  },

  async upload(url) {
    const progress = [];
    const chunks = [UPLOAD_CHUNK, UPLOAD_CHUNK, UPLOAD_CHUNK, UPLOAD_CHUNK];
    const total = chunks.length * UPLOAD_CHUNK.length;
    const response = await upload(url, {
      body: chunks,
      totalBytes: total,
      onProgress: ({ sent, total }) => progress.push(`${sent}/${total}`),
    });
    let echoed = 0;
    for await (const chunk of response) echoed += chunk.length;
    console.log(`${response.status}`);
    console.log(progress.join(','));
    console.log(`${echoed}`);
  },

  ws(url) {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      ws.onopen = () => ws.send('hello');
      ws.onmessage = (event) => {
        console.log(`echo ${event.data}`);
        ws.send('close-me');
      };
      ws.onerror = (event) => reject(event.error);
      ws.onclose = (event) => {
        console.log(`close ${event.code} ${event.reason} ${event.wasClean}`);
        resolve();
      };
    });
  },

  sse(url) {
    return new Promise((resolve, reject) => {
      const source = new EventSource(url);
      let seen = 0;
      source.onmessage = (event) => {
        console.log(`${event.data} ${event.lastEventId}`);
        if (++seen === 2) {
          source.close();
          resolve();
        }
      };
      source.onerror = (event) => reject(event.error);
    });
  },

  tcp(url) {
    const stream = TcpStream.connect(url);
    stream.write('hello\n');
    console.log(TcpStream.text(stream.readUntil('\n')).trimEnd());
    stream.close();
  },

  async udp(target) {
    const socket = UdpSocket.ephemeral();
    socket.sendTo(target, 'ping');
    const { data } = await socket.receiveAsync();
    console.log(UdpSocket.text(data));
    socket.close();
  },
};

export const run = main(async (args) => {
  const [name, target] = args;
  const runCase = cases[name];
  if (runCase === undefined || target === undefined) {
    stderr.write(`conformance: usage: conformance CASE TARGET (CASE: ${Object.keys(cases).join(', ')})\n`);
    return 2;
  }
  try {
    await runCase(target);
  } catch (err) {
    stderr.write(`conformance: ${err.name}: ${err.message}\n`);
    return 1;
  }
  return 0;
});
