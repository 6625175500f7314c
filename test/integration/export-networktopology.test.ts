// `lpm export networktopology` against a real kube-apiserver (etcd + kube-apiserver on loopback)
// with the shipped CRD (manifests/crds/networktopology.yaml) installed, fed by real agents in the
// lab (source direct). Checked: the API server accepts the CRD; after two refreshes the object
// is there once, written by server-side apply with field manager lpm, with nodes, a self-link per
// node and a link per measured pair in a stable order, latencyNanos and bandWidthBits valid
// quantities matching the emulated links; a later refresh keeps names and order; and when a lab
// link's delay changes, its latencyNanos follows.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { labDown } from '../../scenarios/lab/lab.js';
import { readState, type LabState } from '../../scenarios/lab/state.js';
import { built, describeWithCapabilities, kubeBinaries, kubeBins, missingCapabilities, netns, openssl } from '../helpers/capability.js';
import { startTestApiserver, type TestApiserver } from '../helpers/kubeApiserver.js';
import { waitFor } from '../helpers/waitFor.js';

const ROOT = join(import.meta.dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'lpm.js');
const CRD = join(ROOT, 'manifests', 'crds', 'networktopology.yaml');
const LAB = 'texport';
const NS = 'swm-test';
const missing = await missingCapabilities([netns(), built(), openssl(), kubeBinaries()]);

let dir = '';
let api: TestApiserver | undefined;
let state: LabState | undefined;
let exporter: ResultPromise | undefined;
let exporterLog = '';
let objects: CustomObjectsApi;

interface Topo {
  metadata: { name: string; namespace: string; managedFields?: Array<{ manager: string; operation: string }> };
  spec: {
    networkImplementation: string;
    physicalBase: string;
    nodes: Array<{ name: string; type: string }>;
    links: Array<{ name: string; source: string; target: string; capabilities: { latencyNanos?: string; bandWidthBits?: string } }>;
  };
}

const QUANTITY = /^(\d+)(k|M|G|T)?$/;
const SUFFIX: Record<string, number> = { '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12 };
function quantity(q: string | undefined): number {
  const m = QUANTITY.exec(q ?? '');
  if (!m) throw new Error(`"${q}" is not a quantity`);
  return Number(m[1]) * SUFFIX[m[2] ?? '']!;
}

async function readTopology(): Promise<Topo | undefined> {
  try {
    return (await objects.getNamespacedCustomObject({
      group: 'qos-scheduler.siemens.com',
      version: 'v1alpha1',
      namespace: NS,
      plural: 'networktopologies',
      name: 'l2sm',
    })) as Topo;
  } catch (err) {
    if ((err as { code?: number }).code === 404) return undefined;
    throw err;
  }
}

const applied = () => [...exporterLog.matchAll(/"refresh":(\d+)/g)].map((m) => Number(m[1]));
const link = (t: Topo, name: string) => t.spec.links.find((l) => l.name === name);

async function cleanup(): Promise<void> {
  if (exporter && exporter.exitCode === null) exporter.kill('SIGKILL');
  await exporter?.catch(() => undefined);
  await labDown(LAB).catch(() => undefined);
  await api?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
}

describeWithCapabilities('lpm export networktopology against kube-apiserver with the CRD', missing, () => {
  beforeAll(async () => {
    await labDown(LAB).catch(() => undefined);
    dir = await mkdtemp(join(tmpdir(), 'lpm-export-'));
    api = await startTestApiserver(kubeBins());
    const kubectl = (args: string[]) => execa(kubeBins().kubectl!, ['--kubeconfig', api!.kubeconfig, ...args], { timeout: 90_000 });
    await kubectl(['apply', '-f', CRD]);
    await kubectl(['wait', '--for=condition=Established', 'crd/networktopologies.qos-scheduler.siemens.com', '--timeout=60s']);
    await kubectl(['create', 'namespace', NS]);
    const kc = new KubeConfig();
    kc.loadFromFile(api.kubeconfig);
    objects = kc.makeApiClient(CustomObjectsApi);

    const topology = join(dir, 'lab.yaml');
    await writeFile(
      topology,
      `name: ${LAB}
nodes: [a, b]
agent:
  measurements:
    - { type: rtt, interval: 1s, ping: { count: 5, spacing: 50ms } }
    - { type: bandwidth, interval: 10s, iperf3: { duration: 1s, omit: 0 } }
links:
  - { from: a, to: b, delay: 3ms, rate: 20Mbps }
  - { from: b, to: a, delay: 5ms, rate: 10Mbps }
`,
    );
    await execa(process.execPath, [BIN, 'lab', 'up', topology, '--agents'], { env: { LPM_LOG_LEVEL: 'warn' } });
    state = await readState(LAB);
    const agents = state!.plan.nodes.flatMap((n) => ['--agent', `http://${n.underlayAddress}:9105`]);
    exporter = execa(
      process.execPath,
      [BIN, 'export', 'networktopology', '--source', 'direct', ...agents, '--namespace', NS, '--interval', '3s', '--kubeconfig', api.kubeconfig],
      { reject: false, stdin: 'ignore', buffer: false },
    );
    exporter.stderr?.on('data', (chunk: Buffer) => (exporterLog += chunk.toString('utf8')));
  });

  afterAll(cleanup);

  it('after two refreshes: one object, applied by lpm, sorted, valid quantities matching the links', async () => {
    // both directions measured (RTT and bandwidth), and applied twice since
    const t = await waitFor(
      'a NetworkTopology with RTT and bandwidth of both directions, two refreshes later',
      async () => {
        const o = await readTopology();
        const full = o && ['a-b', 'b-a'].every((n) => link(o, n)?.capabilities.latencyNanos && link(o, n)?.capabilities.bandWidthBits);
        if (!full) return undefined;
        const seenAt = Math.max(0, ...applied());
        const twoMore = () => Math.max(0, ...applied()) >= seenAt + 2;
        await waitFor('two more refreshes', async () => (twoMore() ? true : undefined), 30_000, 200);
        return readTopology();
      },
      90_000,
      1000,
    );
    expect(t).toBeDefined();
    expect(t.spec.networkImplementation).toBe('L2SM');
    expect(t.spec.physicalBase).toBe('');
    expect(t.spec.nodes).toEqual([
      { name: 'a', type: 'COMPUTE' },
      { name: 'b', type: 'COMPUTE' },
    ]);
    expect(t.spec.links.map((l) => [l.name, l.source, l.target])).toEqual([
      ['a-a', 'a', 'a'],
      ['a-b', 'a', 'b'],
      ['b-a', 'b', 'a'],
      ['b-b', 'b', 'b'],
    ]);
    expect(link(t, 'a-a')!.capabilities).toEqual({ latencyNanos: '0' });
    for (const name of ['a-b', 'b-a']) {
      const c = link(t, name)!.capabilities;
      expect(c.latencyNanos).toMatch(QUANTITY);
      expect(c.bandWidthBits).toMatch(QUANTITY);
      // 3 ms + 5 ms round trip
      expect(Math.abs(quantity(c.latencyNanos) - 8e6)).toBeLessThan(2e6);
    }
    expect(quantity(link(t, 'a-b')!.capabilities.bandWidthBits)).toBeGreaterThan(10e6);
    expect(quantity(link(t, 'a-b')!.capabilities.bandWidthBits)).toBeLessThan(22e6);
    expect(quantity(link(t, 'b-a')!.capabilities.bandWidthBits)).toBeLessThan(11e6);
    // server-side apply by lpm only; the list of objects holds just this one
    expect(t.metadata.managedFields?.map((f) => [f.manager, f.operation])).toEqual([['lpm', 'Apply']]);
    const list = (await objects.listNamespacedCustomObject({
      group: 'qos-scheduler.siemens.com',
      version: 'v1alpha1',
      namespace: NS,
      plural: 'networktopologies',
    })) as { items: Topo[] };
    expect(list.items.map((i) => i.metadata.name)).toEqual(['l2sm']);
    expect(exporterLog).not.toMatch(/refresh failed/);
  });

  it('follows a lab link: a longer delay a -> b shows in a-b latencyNanos, names and order unchanged', async () => {
    const before = (await readTopology())!;
    const set = await execa(process.execPath, [BIN, 'lab', 'set', 'a->b', 'delay=30ms', '--lab', LAB], { reject: false });
    expect(set.exitCode, set.stderr).toBe(0);
    const after = await waitFor(
      'a-b latencyNanos near 35 ms',
      async () => {
        const o = await readTopology();
        const ns = o && quantity(link(o, 'a-b')?.capabilities.latencyNanos);
        return ns !== undefined && Math.abs(ns - 35e6) < 3e6 ? o : undefined;
      },
      90_000,
      1000,
    );
    expect(after.spec.links.map((l) => l.name)).toEqual(before.spec.links.map((l) => l.name));
    // the other direction's RTT crosses the same two links: it follows too
    expect(quantity(link(after, 'b-a')!.capabilities.latencyNanos)).toBeGreaterThan(20e6);
    expect(after.metadata.managedFields?.map((f) => f.manager)).toEqual(['lpm']);
  }, 120_000);
});
