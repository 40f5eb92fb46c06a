/**
 * `conformance CASE TARGET`: one case of the cross-language guest conformance
 * suite (tests/it/conformance.rs), written the way a JavaScript user would:
 * the web platform (`fetch`, `WebSocket`, `EventSource`, `AbortSignal`,
 * `Promise.all`) where the web has it, sandnet's own API (`upload`,
 * `TcpStream`, `UdpSocket`, `TusUpload`) where it does not. Every language's conformance
 * guest prints the same lines for a case; the cases are listed in the test
 * module. `form` is JavaScript's own extra case (`fetch` streams a
 * `FormData` body, a field and a `File`, as multipart/form-data;
 * tests/it/guests.rs).
 *
 * Exits 1 with `conformance: ERROR` on stderr when a case fails, 2 on bad
 * usage. Built by scripts/build-guests.sh into target/guests/js-conformance.wasm.
 */

import { MultipartBody, NetError, TcpStream, TusUpload, UdpSocket, main, stderr, stdout, upload } from '../lib/sandnet.js';

const UPLOAD_TOTAL = 1_000_000;
const UPLOAD_CHUNK = 65536;
/** The tus cases' PATCH size. */
const TUS_CHUNK = 256 * 1024;

/** Resolves with the peer's close of `ws` as `close CODE REASON`. */
function closeLine(ws) {
  return new Promise((resolve, reject) => {
    ws.onerror = (event) => reject(event.error ?? new Error('WebSocket error'));
    ws.onclose = (event) => resolve(`close ${event.code} ${event.reason}`);
  });
}

/** The 1 MB the tus cases upload: byte i is i % 251. */
function tusData() {
  const data = new Uint8Array(1_000_000);
  const pattern = Uint8Array.from({ length: 251 }, (_, i) => i);
  for (let at = 0; at < data.length; at += pattern.length) data.set(pattern.subarray(0, data.length - at), at);
  return data;
}

/** Starts an upload of `data` at `createUrl`, paused after its first chunk; prints `paused OFFSET`. */
async function startPaused(data, createUrl) {
  const paused = await new TusUpload(data, { chunkSize: TUS_CHUNK, onProgress: () => 'pause' }).start(createUrl);
  console.log(`paused ${paused.offset}`);
  return paused;
}

/**
 * The line for how a tus step against a lying server ended: the `NetError`
 * it must fail with, or the state it wrongly reached.
 */
async function refusal(step, sending) {
  try {
    return `${step} ${(await sending).state}`;
  } catch (err) {
    if (!(err instanceof NetError)) throw err;
    return `${step} ${err.message}`;
  }
}

const cases = {
  async 'get-json'(url) {
    const response = await fetch(url, { headers: { accept: 'application/json' } });
    const body = await response.json();
    console.log(`${response.status} ${body.hello} ${body.n}`);
  },

  async 'post-json'(url) {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ n: 41 }),
    });
    const body = await response.json();
    console.log(`${response.status} ${body.n} ${body.content_type}`);
  },

  async headers(url) {
    const response = await fetch(new Request(url, { headers: new Headers({ 'X-Conformance': 'yes' }) }));
    console.log(`${response.status} ${response.headers.get('X-Reflected')}`);
  },

  async denied(url) {
    try {
      await fetch(url);
      console.log('allowed');
    } catch (err) {
      // fetch rejects with the web's TypeError; the cause is sandnet's error.
      if (err.cause?.kind !== 'denied') throw err;
      console.log(`denied ${err.cause.suggestion}`);
    }
  },

  async timeout(url) {
    try {
      await fetch(url, { signal: AbortSignal.timeout(300) });
      console.log('answered');
    } catch (err) {
      if (err.name !== 'TimeoutError') throw err;
      console.log('timeout');
    }
  },

  async download(url) {
    const response = await fetch(url);
    const reader = response.body.getReader();
    let size = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.length;
    }
    console.log(`${response.status} ${size}`);
  },

  async upload(url) {
    const seen = [];
    const chunks = [];
    for (let at = 0; at < UPLOAD_TOTAL; at += UPLOAD_CHUNK) {
      chunks.push(new Uint8Array(Math.min(UPLOAD_CHUNK, UPLOAD_TOTAL - at)).fill(0x75));
    }
    const response = await upload(url, {
      body: chunks,
      totalBytes: UPLOAD_TOTAL,
      onProgress: ({ sent }) => seen.push(Number(sent)),
    });
    let echoed = '';
    const decoder = new TextDecoder();
    for await (const chunk of response) echoed += decoder.decode(chunk, { stream: true });
    // Progress counts bytes the connection took; it trails the writes.
    const steady = seen.length > 0 && seen.every((s, i) => i === 0 || seen[i - 1] <= s)
      && seen[seen.length - 1] <= UPLOAD_TOTAL;
    console.log(steady ? 'progress ok' : `progress bad ${seen}`);
    console.log(`${response.status} ${echoed}`);
  },

  async 'ws-echo'(url) {
    const ws = new WebSocket(url);
    const closed = closeLine(ws);
    await new Promise((resolve) => { ws.onopen = resolve; });
    const echoed = new Promise((resolve) => { ws.onmessage = (event) => resolve(event.data); });
    ws.send('ping');
    console.log(await echoed);
    ws.send('close-me');
    console.log(await closed);
  },

  async 'ws-close-first'(url) {
    console.log(await closeLine(new WebSocket(url)));
  },

  async 'ws-send-after-close'(url) {
    const ws = new WebSocket(url);
    const closed = closeLine(ws);
    await new Promise((resolve) => { ws.onopen = resolve; });
    await new Promise((resolve) => { setTimeout(resolve, 300); });
    ws.send('too late'); // the web's send never throws for a closed socket
    console.log(await closed);
  },

  sse(url) {
    return new Promise((resolve, reject) => {
      const source = new EventSource(url);
      let seen = 0;
      source.onmessage = (event) => {
        console.log(`${event.lastEventId} ${event.data}`);
        if (++seen === 3) {
          source.close();
          resolve();
        }
      };
      source.onerror = (event) => reject(event.error ?? new Error('EventSource error'));
    });
  },

  'tcp-echo'(url) {
    const stream = TcpStream.connect(url);
    stream.write('hello\n');
    console.log(TcpStream.text(stream.readUntil('\n')).trimEnd());
    stream.close();
  },

  async 'udp-echo'(target) {
    const socket = UdpSocket.ephemeral();
    socket.sendTo(target, 'ping');
    const { data } = await socket.receiveAsync();
    console.log(UdpSocket.text(data));
    socket.close();
  },

  async concurrent(url) {
    const [first, second] = await Promise.all([
      fetch(url, { signal: AbortSignal.timeout(5000) }),
      fetch(url, { signal: AbortSignal.timeout(5000) }),
    ]);
    console.log(`${first.status} ${second.status}`);
  },

  async form(url) {
    const form = new FormData();
    form.append('field', 'value ü');
    form.append('doc', new File(['hi'], 'h.txt', { type: 'text/plain' }));
    const response = await fetch(url, { method: 'POST', body: form });
    const lines = (await response.text()).slice('POST '.length).split('\r\n');
    const boundary = lines[0];
    const shown = lines.map((l) => (l === boundary ? 'BOUNDARY' : l === `${boundary}--` ? 'END' : l));
    console.log(`${response.status}`);
    console.log(shown.join('|'));
  },

  async tus(createUrl) {
    const data = tusData();
    const paused = await startPaused(data, createUrl);
    const done = await new TusUpload(data, { chunkSize: TUS_CHUNK }).resume(paused.url);
    console.log(`done ${done.url} resumes=${done.resumes}`);
    const abort = new AbortController();
    const second = new TusUpload(data, { chunkSize: TUS_CHUNK, signal: abort.signal, onProgress: () => { abort.abort(); } });
    console.log((await second.start(createUrl)).state);
  },

  async 'tus-offset-past'(createUrl) {
    const data = tusData();
    const paused = await startPaused(data, createUrl);
    const tus = new TusUpload(data, { chunkSize: TUS_CHUNK });
    // The HEAD that starts the resume claims more than the data.
    console.log(await refusal('resume', tus.resume(paused.url)));
    // The HEAD after the dropped PATCH claims more than the data.
    console.log(await refusal('after a drop', tus.start(createUrl)));
  },

  async multipart(url) {
    const pattern = (size) => Uint8Array.from({ length: size }, (_, i) => i % 251);
    const form = new FormData();
    form.append('note', 'two files');
    form.append('first', new Blob([pattern(300000)], { type: 'application/octet-stream' }), 'a.bin');
    form.append('second', new File([pattern(150000)], 'b.txt', { type: 'text/plain' }));
    const total = BigInt(new MultipartBody(form).totalBytes);
    const seen = [];
    const response = await upload(url, { body: form, onProgress: (p) => seen.push(p) });
    let answer = '';
    const decoder = new TextDecoder();
    for await (const chunk of response) answer += decoder.decode(chunk, { stream: true });
    // Progress counts bytes the connection took; it trails the writes.
    const steady = seen.length >= 2
      && seen.every((p, i) => p.total === total && p.sent <= total && (i === 0 || seen[i - 1].sent <= p.sent));
    console.log(steady ? 'progress ok' : `progress bad ${seen.map((p) => p.sent)}`);
    console.log(`${response.status}`);
    stdout.write(answer);
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
