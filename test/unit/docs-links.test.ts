// Every relative link in the documentation resolves: README.md, docs/*.md and the component
// READMEs (*/README.md) may only point at files that exist, and at #anchors that are headings of
// the target file (GitHub's slugs). External links (http:, https:, mailto:) are not checked.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');

function docFiles(): string[] {
  const files = ['README.md'];
  for (const name of readdirSync(join(ROOT, 'docs'))) if (name.endsWith('.md')) files.push(join('docs', name));
  for (const name of readdirSync(ROOT)) {
    if (name.startsWith('.') || name === 'node_modules' || name === 'dist') continue;
    const readme = join(name, 'README.md');
    if (statSync(join(ROOT, name)).isDirectory() && existsSync(join(ROOT, readme))) files.push(readme);
  }
  return files.sort();
}

/** Lines outside fenced code blocks. */
function proseLines(text: string): string[] {
  const out: string[] = [];
  let fence: string | undefined;
  for (const line of text.split('\n')) {
    const m = /^\s*(```+|~~~+)/.exec(line);
    if (m) {
      if (fence === undefined) fence = m[1]![0]!;
      else if (m[1]![0] === fence) fence = undefined;
      continue;
    }
    if (fence === undefined) out.push(line);
  }
  return out;
}

/** GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens, -1, -2 for repeats. */
function slug(heading: string): string {
  return heading
    .replace(/`/g, '')
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\- _]/gu, '')
    .replace(/ /g, '-');
}

function anchors(file: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const line of proseLines(readFileSync(join(ROOT, file), 'utf8'))) {
    const m = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const base = slug(m[1]!);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

/** [text](target) and ![alt](target) outside code, with inline code spans removed first. */
function links(text: string): string[] {
  const out: string[] = [];
  for (const line of proseLines(text)) {
    const prose = line.replace(/`[^`]*`/g, '');
    for (const m of prose.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) out.push(m[1]!);
  }
  return out;
}

function problems(file: string, text = readFileSync(join(ROOT, file), 'utf8')): string[] {
  const bad: string[] = [];
  for (const target of links(text)) {
    if (/^(https?|mailto):/i.test(target)) continue;
    const [path, anchor] = target.split('#', 2) as [string, string | undefined];
    const resolved = path === '' ? file : relative(ROOT, resolve(ROOT, dirname(file), decodeURIComponent(path)));
    if (resolved.startsWith('..') || !existsSync(join(ROOT, resolved))) {
      bad.push(`${file}: ${target}: no such file`);
      continue;
    }
    if (anchor !== undefined) {
      if (!resolved.endsWith('.md')) bad.push(`${file}: ${target}: anchor into a file that is not Markdown`);
      else if (!anchors(resolved).has(anchor)) bad.push(`${file}: ${target}: no heading "#${anchor}" in ${resolved}`);
    }
  }
  return bad;
}

describe('documentation links', () => {
  const files = docFiles();

  it('covers the front page, docs/ and the component READMEs', () => {
    expect(files).toContain('README.md');
    expect(files).toContain('docs/extender.md');
    for (const c of ['agent', 'extender', 'scenarios', 'src', 'bench']) expect(files).toContain(`${c}/README.md`);
  });

  it('every relative link points to an existing file and heading', () => {
    expect(files.flatMap((f) => problems(f))).toEqual([]);
  });

  it('slugs headings as GitHub does', () => {
    expect(slug('Metrics (`/metrics`)')).toBe('metrics-metrics');
    expect(slug("Which pods are a pod's peers")).toBe('which-pods-are-a-pods-peers');
    expect(slug('Weight: how much lpm counts against the default plugins')).toBe('weight-how-much-lpm-counts-against-the-default-plugins');
    expect(slug('JSON (`/api/v1/links`, `/api/v1/history`)')).toBe('json-apiv1links-apiv1history');
  });

  it('catches a broken file link and a broken anchor (the check has teeth)', () => {
    const text = [
      'ok [a](docs/extender.md#scoring-formula), [b](#documentation), ![c](docs/web-page.png), [d](https://example.com/x)',
      'bad [e](docs/no-such-file.md), [f](docs/extender.md#no-such-heading), [g](#nowhere)',
      'ignored `[h](docs/in-code.md)`',
      '```',
      '[i](docs/in-a-fence.md)',
      '```',
    ].join('\n');
    expect(problems('README.md', text)).toEqual([
      'README.md: docs/no-such-file.md: no such file',
      'README.md: docs/extender.md#no-such-heading: no heading "#no-such-heading" in docs/extender.md',
      'README.md: #nowhere: no heading "#nowhere" in README.md',
    ]);
  });
});
