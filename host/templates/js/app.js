/**
 * `{{name}} URL`: GET one URL through sandnet and print the status and body.
 *
 * Build: ./build.sh     Run: sandnet run {{name}}.wasm --policy policy.toml -- URL
 */

import { NetError, fetch, main } from './sandnet.js';

export const run = main(async (args) => {
  if (args.length !== 1) {
    console.error('usage: {{name}} URL');
    return 2;
  }
  try {
    const response = await fetch(args[0]);
    console.log(response.status);
    console.log(response.text());
  } catch (err) {
    if (!(err instanceof NetError)) throw err;
    console.error(`{{name}}: ${err}`); // reason + "hint: ..." line for a denial
    return 1;
  }
  return 0;
});
