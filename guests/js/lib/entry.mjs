// entry.mjs: `node entry.mjs APP OUT` prints the module componentize-js
// should build for APP. A module (APP has an `import` or `export` statement)
// is built as it is: APP is printed. A plain script is wrapped: OUT is
// written, a module that imports sandnet.js (installing fetch, WebSocket,
// EventSource and the timers) and exports `run`, whose body is the script,
// so the script runs when the guest runs, not when componentize-js
// pre-initialises the component at build time. The script starts on line 1
// of OUT, so line numbers in stack traces match APP.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const [app, out] = process.argv.slice(2);
if (app === undefined || out === undefined) {
  console.error('usage: node entry.mjs APP OUT');
  process.exit(2);
}
const source = readFileSync(app, 'utf8');
if (/^[ \t]*(import[ \t]*[\w{*'"]|export[ \t{*])/m.test(source)) {
  console.log(app);
} else {
  const library = resolve(dirname(fileURLToPath(import.meta.url)), 'sandnet.js');
  let path = relative(dirname(resolve(out)), library).replaceAll('\\', '/');
  if (!path.startsWith('.')) path = `./${path}`;
  const body = source.replace(/^#!/, '//#!');
  const head = `import { main as sandnetMain } from ${JSON.stringify(path)}; export const run = sandnetMain(async () => { `;
  mkdirSync(dirname(resolve(out)), { recursive: true });
  writeFileSync(out, `${head}${body}\n});\n`);
  console.log(out);
}
