// Writes a run's results under a directory: NAME.json (everything), NAME.txt (the summary
// printed on stdout) and NAME.html (SVG of topology and placements, the A/B table).
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { resultHtml } from './html.js';
import { formatResult, type ScenarioResult } from './result.js';

export async function writeResults(r: ScenarioResult, dir: string): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const base = join(dir, `${r.name}.${r.mode}`);
  const files = [`${base}.json`, `${base}.txt`, `${base}.html`];
  await writeFile(files[0]!, JSON.stringify(r, null, 2) + '\n');
  await writeFile(files[1]!, formatResult(r));
  await writeFile(files[2]!, resultHtml(r));
  return files;
}
