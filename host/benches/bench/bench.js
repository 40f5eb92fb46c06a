// Deno peer of the bench (host/benches/bench): `http URL N` or `ws URL N`,
// printing `N BYTES MICROS` like the sandnet guests.
const [mode, url, count] = Deno.args;
const n = Number(count);
const started = performance.now();
let bytes = 0;
if (mode === "http") {
  for (let i = 0; i < n; i++) {
    const response = await fetch(url);
    bytes += (await response.arrayBuffer()).byteLength;
  }
} else if (mode === "ws") {
  const ws = new WebSocket(url);
  ws.binaryType = "arraybuffer";
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = reject;
  });
  const payload = new Uint8Array(64).fill(119);
  let received = null;
  ws.onmessage = (event) => {
    bytes += event.data.byteLength;
    received();
  };
  for (let i = 0; i < n; i++) {
    const echoed = new Promise((resolve) => (received = resolve));
    ws.send(payload);
    await echoed;
  }
  ws.close();
} else {
  throw new Error(`unknown mode ${mode}`);
}
console.log(`${n} ${bytes} ${Math.round((performance.now() - started) * 1000)}`);
