// Where the lpm CLI lives, so the lab can start its emulator and agents as `node bin/lpm.js ...`
// from compiled code (dist/scenarios/lab) and from sources under test (scenarios/lab) alike.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'bin', 'lpm.js'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the lpm package root (bin/lpm.js)');
    dir = up;
  }
}

/** bin/lpm.js; it imports dist/, so `npm run build` must have run. */
export function lpmBin(): string {
  const root = packageRoot();
  if (!existsSync(join(root, 'dist', 'cli', 'lpm.js'))) throw new Error(`${root}/dist is missing: run "npm run build" first`);
  return join(root, 'bin', 'lpm.js');
}
