// lpm-scheduler against the lab control plane (`lab up --kube`, through the library), on a small
// 3-node topology with per-node labels and capacity and RTT-only agents: the extender block of the
// shipped KubeSchedulerConfiguration in its variants.
// - nodeCacheCapable true (shipped: names only) and false (whole NodeList both ways): the pod goes
//   next to its peer either way, and the extender's decision records which body it got;
// - a burst of 20 peer pods created at once: all placed next to the peer;
// - the extender down: with `ignorable: true` (shipped) pods are still scheduled; with
//   `ignorable: false` they stay Pending with an error event naming the extender;
// - a kube-apiserver that cannot start: `lab up` fails with its log, and removes everything.
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { labDown, labUpTopology } from '../../scenarios/lab/lab.js';
import { restartLpmScheduler, setLabExtender } from '../../scenarios/lab/kube/kubeLab.js';
import { readState, type LabState } from '../../scenarios/lab/state.js';
import { listNetns } from '../../scenarios/lab/ip.js';
import { findByMarker } from '../../scenarios/lab/processes.js';
import { kubeDir, kubeMarker } from '../../scenarios/lab/kube/state.js';
import { topologySchema } from '../../scenarios/topology.js';
import { built, describeWithCapabilities, kubeBinaries, kubeBins, missingCapabilities, netns } from '../helpers/capability.js';
import { createPod, decisions, deletePods, kubeClient, pod, readPod, waitEvent, waitRunning, type KubeClient } from '../helpers/kubeLab.js';
import { waitFor } from '../helpers/waitFor.js';

const LAB = 'tksch';
const missing = await missingCapabilities([netns(), built(), kubeBinaries()]);

const topology = topologySchema.parse({
  name: LAB,
  nodes: [
    { name: 'a', labels: { 'topology.kubernetes.io/zone': 'edge' }, capacity: { cpu: 32, memory: '64Gi' } },
    { name: 'b', labels: { 'topology.kubernetes.io/zone': 'edge' }, capacity: { cpu: 32, memory: '64Gi', pods: 250 } },
    { name: 'c', labels: { 'topology.kubernetes.io/zone': 'cloud' } },
  ],
  links: [
    { from: 'a', to: 'b', delay: '2ms' },
    { from: 'a', to: 'c', delay: '10ms' },
    { from: 'b', to: 'c', delay: '10ms' },
  ],
  agent: { measurements: [{ type: 'rtt', interval: '1s', ping: { count: 5, spacing: '50ms', timeout: '1s' } }] },
});

const peerPod = (name: string) => pod({ name, labels: { app: 'web' }, annotations: { 'lpm.l2sm.io/peers': 'app=db' }, schedulerName: 'lpm-scheduler' });

describeWithCapabilities('lpm-scheduler in the lab: nodeCacheCapable, bursts, ignorable', missing, () => {
  let dir = '';
  let state: LabState;
  let kube: KubeClient;

  beforeAll(async () => {
    await labDown(LAB).catch(() => undefined);
    dir = await mkdtemp(join(tmpdir(), 'lpm-kube-sched-'));
    state = await labUpTopology(topology, join(dir, 'topology.yaml'), { kube: { binDir: kubeBins().dir, logLevel: 'warn' } });
    kube = kubeClient(state.kube!.kubeconfig, kubeBins().kubectl!);
    await createPod(kube, pod({ name: 'db', labels: { app: 'db' }, nodeName: 'b' }));
    await waitRunning(kube, 'db');
  }, 240_000);

  afterAll(async () => {
    try {
      await labDown(LAB);
    } finally {
      if (dir) await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('registers the nodes with the labels and capacity of the topology file (defaults for the rest)', async () => {
    const nodes = (await kube.api.listNode()).items;
    const byName = Object.fromEntries(nodes.map((n) => [n.metadata!.name!, n]));
    expect(Object.keys(byName).sort()).toEqual(['a', 'b', 'c']);
    expect(byName.a!.metadata!.labels!['topology.kubernetes.io/zone']).toBe('edge');
    expect(byName.c!.metadata!.labels!['topology.kubernetes.io/zone']).toBe('cloud');
    expect(byName.b!.status!.capacity).toMatchObject({ cpu: '32', memory: '64Gi', pods: '250' });
    expect(byName.a!.status!.allocatable).toMatchObject({ cpu: '32', memory: '64Gi', pods: '110' });
    expect(byName.c!.status!.capacity).toMatchObject({ cpu: '4', memory: '8Gi', pods: '110' });
  });

  it('places the pod next to its peer with nodeCacheCapable true (names) and false (NodeList)', async () => {
    await createPod(kube, peerPod('names'));
    expect((await waitRunning(kube, 'names')).spec!.nodeName).toBe('b');
    const d1 = (await decisions(state.kube!.extender!.url, 'names', 'filter'))[0]!;
    expect(d1.mode).toBe('nodeNames');

    await restartLpmScheduler(LAB, { nodeCacheCapable: false });
    await createPod(kube, peerPod('nodelist'));
    expect((await waitRunning(kube, 'nodelist')).spec!.nodeName).toBe('b');
    const d2 = await waitFor('decisions for nodelist', async () => {
      const ds = await decisions(state.kube!.extender!.url, 'nodelist');
      return ds.some((d) => d.verb === 'prioritize') ? ds : undefined;
    });
    for (const d of d2) expect(d.mode).toBe('nodeList');
    expect(d2.find((d) => d.verb === 'prioritize')!.chosen).toBe('b');
    await restartLpmScheduler(LAB, {});
  });

  it('places a burst of 20 peer pods created at once next to their peer', async () => {
    const names = Array.from({ length: 20 }, (_, i) => `burst-${i}`);
    await Promise.all(names.map((n) => createPod(kube, peerPod(n))));
    const placed = await Promise.all(names.map((n) => waitRunning(kube, n, 120_000)));
    const nodes = placed.map((p) => p.spec!.nodeName);
    expect(nodes).toEqual(names.map(() => 'b'));
    await deletePods(kube, names);
  });

  it('extender down: ignorable true still schedules; ignorable false leaves the pod Pending with an error event', async () => {
    await setLabExtender(LAB, false);
    try {
      await createPod(kube, peerPod('ignored'));
      const p = await waitRunning(kube, 'ignored');
      expect(['a', 'b', 'c']).toContain(p.spec!.nodeName);

      await restartLpmScheduler(LAB, { ignorable: false });
      await createPod(kube, peerPod('strict'));
      const ev = await waitEvent(kube, 'strict', 'FailedScheduling', /extender|connection refused|dial tcp/i, 90_000);
      expect(ev.type).toBe('Warning');
      expect(ev.message).toMatch(new RegExp(`127\\.0\\.0\\.1:${state.kube!.ports.extender}|connection refused`));
      const s = await readPod(kube, 'strict');
      expect(s?.spec?.nodeName).toBeUndefined();
      expect(s?.status?.phase).toBe('Pending');
    } finally {
      await setLabExtender(LAB, true);
      await restartLpmScheduler(LAB, {});
    }
  });

  it('a control plane that fails to start: lab up fails quoting its log, and leaves nothing behind', async () => {
    const FAIL = 'tkfail';
    const fake = join(dir, 'fake-bin');
    await mkdir(fake);
    // stand-ins that answer --version like v1.26.1 and fail to serve
    for (const name of ['kube-apiserver', 'kube-scheduler'])
      await writeFile(join(fake, name), `#!/bin/sh\ncase "$1" in --version) echo "Kubernetes v1.26.1";; *) echo "${name}: cannot serve (test stand-in)" >&2; exit 1;; esac\n`, { mode: 0o755 });
    const t = topologySchema.parse({ name: FAIL, nodes: ['a', 'b'], links: [{ from: 'a', to: 'b', delay: '1ms' }] });
    try {
      await expect(labUpTopology(t, join(dir, 'fail.yaml'), { kube: { binDir: fake } })).rejects.toThrow(
        /kube-apiserver exited during start-up[\s\S]*kube-apiserver: cannot serve \(test stand-in\)/,
      );
      expect(await readState(FAIL)).toBeUndefined();
      expect(existsSync(kubeDir(FAIL))).toBe(false);
      expect((await listNetns()).filter((n) => n.startsWith(`lpm-${FAIL}-`))).toEqual([]);
      expect(await findByMarker(kubeMarker(FAIL))).toEqual([]);
      expect(await findByMarker(`/labs/${FAIL}.`)).toEqual([]);
    } finally {
      await labDown(FAIL).catch(() => undefined);
    }
  });
});
