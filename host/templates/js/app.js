// `{{name}} URL`: GET one URL through sandnet and print the status and body.
//
// A plain script, as for a browser or Deno: `fetch`, `WebSocket`,
// `EventSource` and the timers are globals (no import needed), `Deno.args`
// holds the arguments, and every call is checked against policy.toml.
// Top-level `await` works. For sandnet's extras (TCP, UDP, a WebSocket
// server, upload progress), import them from './sandnet.js' and export
// `run = main(async (args) => ...)`; see the comment atop sandnet.js.
//
// Build: ./build.sh     Run: sandnet run {{name}}.wasm --policy policy.toml -- URL

const [url] = Deno.args;
if (url === undefined) {
  console.error('usage: {{name}} URL');
  Deno.exit(2);
}
try {
  const response = await fetch(url);
  console.log(response.status);
  console.log(await response.text());
} catch (err) {
  // A network failure is a TypeError whose cause says why; for a denial,
  // the reason and a "hint: ..." line with the policy line to add.
  console.error(`{{name}}: ${err.cause ?? err}`);
  Deno.exit(1);
}
