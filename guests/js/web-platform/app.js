// `web-platform HTTP_BASE WS_URL SSE_URL`: a plain script, written as for a
// browser or Deno (no import, no export), using only fetch, WebSocket,
// EventSource and timers. scripts/build-guests.sh wraps it so it runs when
// the guest runs. Prints one line per finding, which tests/it/guests.rs
// checks:
//   fetch 200 200 slow slow MS       two 1 s requests under Promise.all
//   ticks MS,MS,...                   a 250 ms setInterval while they waited
//   ws open PROTOCOL / ws message echo:hello / ws close CODE REASON CLEAN
//   sse message one 7 / sse tick two 8
// then `done`. Exits 1 when a step fails (the error on stderr).

const [httpBase, wsUrl, sseUrl] = Deno.args;
const started = performance.now();
const since = () => Math.round(performance.now() - started);

const ticks = [];
const interval = setInterval(() => ticks.push(since()), 250);
const [a, b] = await Promise.all([fetch(`${httpBase}/slow?ms=1000`), fetch(`${httpBase}/slow?ms=1000`)]);
const bodies = await Promise.all([a.text(), b.text()]);
console.log(`fetch ${a.status} ${b.status} ${bodies.join(' ')} ${since()}`);
clearInterval(interval);
console.log(`ticks ${ticks.join(',')}`);

await new Promise((resolve, reject) => {
  const ws = new WebSocket(wsUrl);
  ws.binaryType = 'arraybuffer';
  ws.onopen = () => {
    console.log(`ws open ${ws.readyState} ${JSON.stringify(ws.protocol)}`);
    ws.send('hello');
  };
  ws.addEventListener('message', (event) => {
    console.log(`ws message echo:${event.data}`);
    ws.send('close-me');
  });
  ws.onerror = (event) => reject(event.error);
  ws.onclose = (event) => {
    console.log(`ws close ${event.code} ${event.reason} ${event.wasClean} ${ws.readyState}`);
    resolve();
  };
});

await new Promise((resolve, reject) => {
  const source = new EventSource(sseUrl);
  source.onmessage = (event) => console.log(`sse message ${event.data} ${event.lastEventId}`);
  source.addEventListener('tick', (event) => {
    console.log(`sse tick ${event.data} ${event.lastEventId} ${source.readyState}`);
    source.close();
    resolve();
  });
  source.onerror = (event) => reject(event.error);
});

setTimeout(() => console.log('done'), 50);
