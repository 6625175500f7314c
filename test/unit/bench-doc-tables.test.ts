// The benchmark tables in docs/benchmarks.md are generated from bench/results/latest.json
// (bench/docTables.ts): regenerating them must give exactly what the doc holds, so the doc can
// never go stale relative to the JSON. `npm run bench -- --doc-only` rewrites them.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DOC_BEGIN, DOC_END, commitText, docBlock, docTables, generatedPart, replaceTables, runLine } from '../../bench/docTables.js';
import { capacityOf, type EmulatorStep } from '../../bench/emulatorCapacity.js';
import type { BenchResult } from '../../bench/reporter.js';

const ROOT = join(import.meta.dirname, '../..');
const result = JSON.parse(readFileSync(join(ROOT, 'bench/results/latest.json'), 'utf8')) as BenchResult;
const doc = readFileSync(join(ROOT, 'docs/benchmarks.md'), 'utf8');

describe('docs/benchmarks.md', () => {
  it('holds exactly the tables generated from bench/results/latest.json (regenerate: npm run bench -- --doc-only)', () => {
    expect(generatedPart(doc)).toBe(`\n${docTables(result)}\n`);
  });

  it('says when and at which commit the numbers were measured', () => {
    expect(generatedPart(doc)).toContain(`Run ${result.machine.date}, ${commitText(result.machine)}`);
  });

  it('has no measured figure outside the generated part that the JSON does not also hold', () => {
    // the prose explains the columns; the numbers live between the markers only
    const prose = doc.replace(docBlock(result), '');
    for (const c of result.http.slice(0, 6)) expect(prose).not.toContain(c.extender.p99.toFixed(2));
  });
});

describe('bench/docTables', () => {
  const base: BenchResult = { ...result, machine: { ...result.machine } };

  it('names the commit, and says when the tree had uncommitted changes', () => {
    expect(commitText({ ...base.machine, commit: undefined, dirty: undefined })).toBe('commit not recorded');
    expect(commitText({ ...base.machine, commit: '1a2b3c4', dirty: false })).toBe('commit 1a2b3c4');
    expect(commitText({ ...base.machine, commit: '1a2b3c4', dirty: true })).toBe('commit 1a2b3c4 with uncommitted changes');
    expect(runLine({ ...base, machine: { ...base.machine, commit: 'abcdef0', dirty: false } })).toContain(`Run ${base.machine.date}, commit abcdef0,`);
  });

  it('replaces only the part between the markers', () => {
    const before = `# T\n\nprose\n\n${DOC_BEGIN}\nold numbers\n${DOC_END}\n\nmore prose\n`;
    const after = replaceTables(before, base);
    expect(after.startsWith('# T\n\nprose\n\n')).toBe(true);
    expect(after.endsWith('\n\nmore prose\n')).toBe(true);
    expect(generatedPart(after)).toBe(`\n${docTables(base)}\n`);
    expect(replaceTables(after, base)).toBe(after);
  });

  it('refuses a document without the markers, or with them twice', () => {
    expect(() => replaceTables('# no markers\n', base)).toThrow(/bench-results:begin/);
    expect(() => generatedPart(`${DOC_BEGIN}\n${DOC_END}\n${DOC_BEGIN}\n${DOC_END}\n`)).toThrow(/more than once/);
  });

  it('says why the agent was not measured when it was skipped', () => {
    const skipped = { ...base, agent: { targets: 100, skipped: 'needs root' } } as BenchResult;
    expect(docTables(skipped)).toContain('Not measured in this run: needs root');
  });
});

describe('bench/emulatorCapacity capacityOf', () => {
  const step = (series: EmulatorStep['series'], rateMbps: number, passed: boolean): EmulatorStep => ({
    series,
    rateMbps,
    goodputMbps: 0,
    expectedMbps: 0,
    carriedMbps: 0,
    passed,
  });
  it('is the configured rate of the loaded links together at the highest step passing with every step below it', () => {
    const steps = [step('1 link', 100, true), step('1 link', 200, true), step('1 link', 300, false), step('1 link', 400, true)];
    expect(capacityOf(steps, '1 link')).toBe(200);
    expect(capacityOf([step('2 links', 100, true), step('2 links', 150, true), step('2 links', 200, false)], '2 links')).toBe(300);
    expect(capacityOf([step('2 links', 100, false)], '2 links')).toBeUndefined();
    expect(capacityOf(steps, '2 links')).toBeUndefined();
  });
});
