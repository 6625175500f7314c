// The layout's direction: src/ holds what the components share and imports none of them; product
// code (the CLI and the components) imports neither tests nor the bench (a development tool the
// image does not ship).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(ROOT, dir))) {
    const rel = join(dir, name);
    if (statSync(join(ROOT, rel)).isDirectory()) out.push(...tsFiles(rel));
    else if (name.endsWith('.ts')) out.push(rel);
  }
  return out;
}

/** Top-level folder of every relative import of a file (static and dynamic). */
function importedFolders(file: string): { spec: string; folder: string }[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const specs = [...text.matchAll(/(?:from\s+|import\s*\(\s*)'(\.{1,2}\/[^']+)'/g)].map((m) => m[1]!);
  return specs.map((spec) => {
    const target = relative(ROOT, resolve(ROOT, dirname(file), spec));
    return { spec, folder: target.split('/')[0]! };
  });
}

const PRODUCT = ['src', 'agent', 'extender', 'scenarios', 'cli'];

describe('layout', () => {
  it('src/ imports no component, test or bench code', () => {
    const bad = tsFiles('src').flatMap((f) =>
      importedFolders(f)
        .filter((i) => i.folder !== 'src')
        .map((i) => `${f} imports ${i.spec}`),
    );
    expect(bad).toEqual([]);
  });

  it('product code imports no test or bench code', () => {
    const bad = PRODUCT.flatMap(tsFiles).flatMap((f) =>
      importedFolders(f)
        .filter((i) => i.folder === 'test' || i.folder === 'bench')
        .map((i) => `${f} imports ${i.spec}`),
    );
    expect(bad).toEqual([]);
  });

  it('every folder of src/ is shared by at least two components', () => {
    const users = new Map<string, Set<string>>();
    for (const f of ['agent', 'extender', 'scenarios', 'cli'].flatMap(tsFiles)) {
      for (const { spec } of importedFolders(f)) {
        const target = relative(ROOT, resolve(ROOT, dirname(f), spec));
        if (!target.startsWith('src/')) continue;
        const key = target.replace(/\.js$/, '.ts');
        if (!users.has(key)) users.set(key, new Set());
        users.get(key)!.add(f.split('/')[0]!);
      }
    }
    // A src file used by one component only belongs in that component; files used only by other
    // src files are judged by their users.
    const lonely = tsFiles('src').filter((f) => {
      const u = users.get(f);
      const viaSrc = tsFiles('src').some((g) => g !== f && importedFolders(g).some((i) => relative(ROOT, resolve(ROOT, dirname(g), i.spec)).replace(/\.js$/, '.ts') === f));
      return !viaSrc && (u === undefined || u.size < 2);
    });
    expect(lonely).toEqual([]);
  });
});
