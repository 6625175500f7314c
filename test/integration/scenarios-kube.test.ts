// Lab mode through the lab's real kube-schedulers (`lab up --kube` under the scenario runner): the
// shipped netmarks-farm scenario (RTT only here, to keep it short), all three arms, one
// repetition. Pod objects are created in the lab's API server; default-scheduler places the
// `default` arm, lpm-scheduler (+ the lpm extender) the `lpm` arm and, with the extender restarted
// NetMARKS-style, the `netmarks` arm. We assert the expectations, that every scheduled pod's
// node came from the named scheduler (its Scheduled event) and that the workload ran where the
// pods were bound (the hollow kubelet started the services: requests completed).
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { labDown } from '../../scenarios/lab/lab.js';
import { labNamespaces } from '../../scenarios/lab/network.js';
import { ARM_SCHEDULER } from '../../scenarios/runner/kubePlacement.js';
import { measurementTable } from '../../scenarios/runner/result.js';
import { loadScenario, runScenario } from '../../scenarios/runner/run.js';
import { built, describeWithCapabilities, kubeBinaries, kubeBins, missingCapabilities, netns, ROOT } from '../helpers/capability.js';

const LAB = 'tskube';
const missing = await missingCapabilities([netns(), built(), kubeBinaries()]);

afterAll(async () => {
  // the runner tears its lab down itself; this only matters if the test was killed half-way
  await labDown(LAB).catch(() => undefined);
}, 120_000);

describeWithCapabilities('scenario lab mode through kube-scheduler', missing, () => {
  it('places netmarks-farm with default-scheduler and lpm-scheduler and measures each arm', { timeout: 240_000 }, async () => {
    const file = join(ROOT, 'scenarios/netmarks-farm.yaml');
    const s = await loadScenario(file);
    const lines: string[] = [];
    const r = await runScenario({ ...s, lab: { ...s.lab, measure: ['rtt'] } }, file, {
      mode: 'lab',
      labName: LAB,
      duration: 3,
      kube: true,
      kubeBin: kubeBins().dir,
      repeat: 1,
      progress: (l) => {
        lines.push(l);
        process.stderr.write(`${l}\n`);
      },
    });
    process.stdout.write(`\n${measurementTable(r) ?? '(no table)'}\n`);
    const log = lines.join('\n');
    expect(r.kubeScheduler, log).toMatch(/^v1\.\d+\.\d+/);
    expect(r.expectations.filter((e) => !e.ok), log).toEqual([]);
    expect(r.placements.map((p) => [p.name, p.skipped])).toEqual([
      ['lpm', undefined],
      ['netmarks', undefined],
      ['default', undefined],
    ]);
    for (const arm of r.placements) {
      for (const p of arm.placements) {
        expect(p.node, `${arm.name} ${p.pod}`).not.toBeNull();
        if (p.preplaced) {
          expect(p.scheduler).toBe('bound by nodeName');
          continue;
        }
        const scheduler = ARM_SCHEDULER[arm.name];
        expect(p.scheduler).toBe(scheduler);
        // the binding came from that scheduler: its Scheduled event names the node
        expect(p.events ?? [], `${arm.name} ${p.pod}`).toContainEqual(expect.stringMatching(new RegExp(`^${scheduler} Scheduled: .*to ${p.node}$`)));
      }
      expect(arm.measurement, arm.name).toBeDefined();
      expect(arm.measurement!.requests, arm.name).toBeGreaterThan(0);
    }
    expect(await labNamespaces(LAB)).toEqual([]);
  });
});
