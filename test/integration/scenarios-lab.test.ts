// Lab mode end to end (root): the ring-chain scenario (heterogeneous delays) on an emulated
// overlay with real agents; pods placed on the measured links by the real extender; then the
// chain of calls runs for a few seconds on each of the three placements. We assert that the run
// completes, all three placements are measured and the expectations hold; the measured
// difference is printed and saved, not asserted (a loaded 2-core machine is no benchmark).
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { labDown } from '../../scenarios/lab/lab.js';
import { labNamespaces } from '../../scenarios/lab/network.js';
import { writeResults } from '../../scenarios/runner/output.js';
import { measurementTable } from '../../scenarios/runner/result.js';
import { runScenarioFile } from '../../scenarios/runner/run.js';
import { describeWithCapabilities, missingCapabilities, netns, ROOT } from '../helpers/capability.js';

const ARTIFACTS = join(ROOT, 'test/artifacts/scenarios');
const LAB = 'slabab';
const missing = await missingCapabilities([netns()]);

afterAll(async () => {
  // the runner tears its lab down itself; this only matters if the test was killed half-way
  await labDown(LAB).catch(() => undefined);
});

describeWithCapabilities('scenario lab mode', missing, () => {
  it('measures lpm, netmarks-style and default placements of the ring chain', { timeout: 170_000 }, async () => {
    const lines: string[] = [];
    const r = await runScenarioFile(join(ROOT, 'scenarios/ring-chain.yaml'), {
      mode: 'lab',
      labName: LAB,
      duration: 4,
      // the extender-call path (scenarios-kube.test.ts covers the kube-scheduler one)
      kube: false,
      progress: (l) => {
        lines.push(l);
        process.stderr.write(`${l}\n`);
      },
    });
    const table = measurementTable(r);
    process.stdout.write(`\n${table ?? '(no table)'}\n`);
    await mkdir(ARTIFACTS, { recursive: true });
    await writeResults(r, ARTIFACTS);
    await writeFile(join(ARTIFACTS, 'ring-chain.lab.table.md'), `${table ?? ''}\nlpm scenario run scenarios/ring-chain.yaml --mode lab --duration 4s\n`);

    expect(r.expectations.filter((e) => !e.ok), lines.join('\n')).toEqual([]);
    expect(r.placements.map((p) => [p.name, p.skipped])).toEqual([
      ['lpm', undefined],
      ['netmarks', undefined],
      ['default', undefined],
    ]);
    for (const p of r.placements) {
      expect(p.measurement, p.name).toBeDefined();
      expect(p.measurement!.requests).toBeGreaterThan(0);
      expect(p.measurement!.p95).toBeGreaterThanOrEqual(p.measurement!.p50);
      // both calls of the chain cross nodes (one pod per node), so bytes crossed the emulator
      expect(p.measurement!.remoteCalls).toBe(2);
      expect(p.measurement!.interNodeBytes).toBeGreaterThan(0);
    }
    const html = await readFile(join(ARTIFACTS, 'ring-chain.lab.html'), 'utf8');
    expect(html).toContain('<svg');
    expect(await labNamespaces(LAB)).toEqual([]);
  });
});
