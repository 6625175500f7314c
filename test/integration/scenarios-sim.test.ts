// Every shipped scenario in sim mode: the real extender over HTTP on loopback, fed by the sim
// link matrix; each must pass. A scenario with a wrong expectation must fail, clearly, with a
// non-zero exit code from the CLI.
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runScenarioFile } from '../../scenarios/runner/run.js';

const ROOT = join(import.meta.dirname, '../..');
const SCENARIOS = join(ROOT, 'scenarios');
const files = (await readdir(SCENARIOS)).filter((f) => f.endsWith('.yaml')).sort();

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'lpm-scenarios-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('shipped scenarios in sim mode', () => {
  it('ships the five required scenarios', () => {
    expect(files).toEqual(
      expect.arrayContaining(['netmarks-farm.yaml', 'ring-chain.yaml', 'bandwidth-pair.yaml', 'max-rtt-unschedulable.yaml', 'degrading-link.yaml']),
    );
  });

  it.each(files)('%s passes', async (f) => {
    const lines: string[] = [];
    const r = await runScenarioFile(join(SCENARIOS, f), { mode: 'sim', progress: (l) => lines.push(l) });
    const failed = r.expectations.filter((e) => !e.ok);
    expect(failed, lines.join('\n')).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.expectations.length).toBeGreaterThan(0);
    expect(r.placements.map((p) => p.name)).toEqual(['lpm', 'netmarks', 'default']);
    // the decisions came from the extender over HTTP: every scheduled pod went through it
    expect(lines.some((l) => l.includes('lpm '))).toBe(true);
  });
});

describe('a wrong expectation', () => {
  it('fails with a clear message and exit code 1; results are written', async () => {
    const text = await readFile(join(SCENARIOS, 'ring-chain.yaml'), 'utf8');
    const wrong = join(tmp, 'wrong.yaml');
    await writeFile(wrong, text.replace('- { pod: web, on: a }', '- { pod: web, on: d }'));
    const out = join(tmp, 'out');
    const r = await execa(process.execPath, [join(ROOT, 'bin/lpm.js'), 'scenario', 'run', wrong, '--out', out], { reject: false });
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toContain('FAIL expect default/web on d: default/web is on a');
    expect(r.stdout).toMatch(/scenario ring-chain .*mode sim: FAIL/);
    expect(r.stderr).toContain('lpm      default/web -> a'); // progress while running
    const json = JSON.parse(await readFile(join(out, 'ring-chain.sim.json'), 'utf8'));
    expect(json.ok).toBe(false);
    const html = await readFile(join(out, 'ring-chain.sim.html'), 'utf8');
    expect(html).toContain('<svg');
    expect(html).toContain('FAIL');
  });

  it('passes with exit code 0 when every file passes, 2 on a broken file', async () => {
    const ok = await execa(process.execPath, [join(ROOT, 'bin/lpm.js'), 'scenario', 'run', join(SCENARIOS, 'netmarks-farm.yaml')], { reject: false });
    expect(ok.exitCode).toBe(0);
    const bad = join(tmp, 'bad.yaml');
    await writeFile(bad, 'topology: { name: st, nodes: [a] }\nworkloads:\n  - { name: x, nodeName: b }\n');
    const r = await execa(process.execPath, [join(ROOT, 'bin/lpm.js'), 'scenario', 'run', bad], { reject: false });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(`${bad}:3: workloads[0].nodeName: unknown node "b" (nodes: a)`);
  });
});
