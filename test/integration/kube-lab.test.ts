// `lpm lab up --kube` end to end on the demo topology (scenarios/topologies/demo.yaml, renamed
// tkube): real etcd, kube-apiserver and two kube-schedulers (default-scheduler; lpm-scheduler from
// the shipped manifests/base/lpm-scheduler-config.yaml) calling the real lpm extender, which reads
// the real agents measuring the emulated links; the hollow kubelet marks pods Running and runs
// their lab command in the node's namespace. Through the CLI (bin/lpm.js; `npm run build` first).
// - kubectl (by full path) lists the four lab nodes Ready;
// - a lpm-scheduler pod with a peer is bound to the node the extender scored highest (its peer's),
//   Running with that node's overlay address as pod IP; a default-scheduler pod is scheduled too;
// - a pod whose max-rtt no node meets stays Pending, and kube-scheduler's FailedScheduling event
//   carries the extender's "lpm: ..." reason;
// - a pod's lab command runs inside its node's network namespace (an iperf3 server reached from
//   another node at the pod IP), and deleting the pod stops it;
// - `lab status` shows the control plane; `lab down` stops every process and removes etcd's data
//   and the kubeconfig.
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { request } from 'undici';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { labDown } from '../../scenarios/lab/lab.js';
import { listNetns } from '../../scenarios/lab/ip.js';
import { isAlive } from '../../scenarios/lab/processes.js';
import { readState, type LabState } from '../../scenarios/lab/state.js';
import { kubeDir, kubeProcesses } from '../../scenarios/lab/kube/state.js';
import { workloadPid } from '../../scenarios/lab/kube/podStatus.js';
import { built, describeWithCapabilities, kubeBinaries, kubeBinDir, kubeBins, missingCapabilities, netns, ROOT } from '../helpers/capability.js';
import { createPod, decisions, kubeClient, kubectl, pod, readPod, waitEvent, waitRunning, type KubeClient } from '../helpers/kubeLab.js';
import { waitFor } from '../helpers/waitFor.js';

const BIN = join(ROOT, 'bin', 'lpm.js');
const LAB = 'tkube';
const missing = await missingCapabilities([netns(), built(), kubeBinaries()]);

describeWithCapabilities('lpm lab up --kube (demo topology)', missing, () => {
  let dir = '';
  let state: LabState;
  let kube: KubeClient;
  let upOutput = '';
  const node = (name: string) => state.plan.nodes.find((n) => n.name === name)!;
  const lpm = (args: string[]) =>
    execa(process.execPath, [BIN, ...args], { reject: false, env: { LPM_KUBE_BIN: kubeBinDir()!, LPM_LOG_LEVEL: 'warn' }, timeout: 180_000 });

  beforeAll(async () => {
    await labDown(LAB).catch(() => undefined);
    dir = await mkdtemp(join(tmpdir(), 'lpm-kube-lab-'));
    const demo = await readFile(join(ROOT, 'scenarios', 'topologies', 'demo.yaml'), 'utf8');
    const file = join(dir, 'demo.yaml');
    await writeFile(file, demo.replace(/^name: demo$/m, `name: ${LAB}`));
    const r = await lpm(['lab', 'up', file, '--kube', '--log-level', 'warn']);
    upOutput = r.stdout;
    if (r.exitCode !== 0) throw new Error(`lab up --kube failed (${r.exitCode}): ${r.stderr}\n${r.stdout}`);
    state = (await readState(LAB))!;
    kube = kubeClient(state.kube!.kubeconfig, kubeBins().kubectl!);
  }, 240_000);

  afterAll(async () => {
    try {
      await labDown(LAB);
    } finally {
      if (dir) await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('prints the kubeconfig and how to use it; kubectl lists every lab node Ready', async () => {
    const kc = join(kubeDir(LAB), 'kubeconfig');
    expect(state.kube!.kubeconfig).toBe(kc);
    expect(upOutput).toContain(`kubeconfig ${kc}`);
    expect(upOutput).toContain(`${join(kubeBins().dir, 'kubectl')} --kubeconfig ${kc} get nodes`);
    const r = await kubectl(kube, ['get', 'nodes']);
    expect(r.exitCode, r.stderr).toBe(0);
    for (const n of ['edge-a', 'edge-b', 'core', 'cloud']) expect(r.stdout).toMatch(new RegExp(`^${n}\\s+Ready\\s`, 'm'));
    const json = JSON.parse((await kubectl(kube, ['get', 'nodes', '-o', 'json'])).stdout) as {
      items: { metadata: { name: string; labels: Record<string, string> }; status: { capacity: Record<string, string>; conditions: { type: string; status: string }[] } }[];
    };
    expect(json.items.map((n) => n.metadata.name).sort()).toEqual(['cloud', 'core', 'edge-a', 'edge-b']);
    for (const n of json.items) {
      expect(n.status.conditions.find((c) => c.type === 'Ready')?.status).toBe('True');
      expect(n.metadata.labels['kubernetes.io/hostname']).toBe(n.metadata.name);
      expect(n.status.capacity).toMatchObject({ cpu: '4', memory: '8Gi', pods: '110' });
    }
  });

  it('lpm-scheduler binds a pod next to its peer (the node the extender scored highest); the hollow kubelet runs it with the overlay IP', async () => {
    await createPod(kube, pod({ name: 'db', labels: { app: 'db' }, nodeName: 'core' }));
    const db = await waitRunning(kube, 'db');
    expect(db.status!.podIP).toBe(node('core').overlayAddress);
    expect(db.status!.hostIP).toBe(node('core').underlayAddress);

    await createPod(kube, pod({ name: 'web', labels: { app: 'web' }, annotations: { 'lpm.l2sm.io/peers': 'app=db' }, schedulerName: 'lpm-scheduler' }));
    const web = await waitRunning(kube, 'web');
    const prioritize = await waitFor('the extender prioritize decision for web', async () => (await decisions(state.kube!.extender!.url, 'web', 'prioritize'))[0]);
    expect((prioritize.peers ?? []).map((p) => `${p.id}@${p.node}`)).toEqual(['default/db@core']);
    const top = [...prioritize.nodes!].sort((a, b) => b.score - a.score)[0]!;
    expect(prioritize.chosen).toBe(top.node);
    expect(top.node).toBe('core');
    expect(web.spec!.nodeName).toBe(prioritize.chosen);
    expect(web.status!.podIP).toBe(node('core').overlayAddress);
    expect(web.status!.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
    expect(web.status!.conditions?.find((c) => c.type === 'PodScheduled')?.status).toBe('True');

    // the default scheduler schedules the pods that do not ask for lpm (without calling it)
    await createPod(kube, pod({ name: 'plain' }));
    const plain = await waitRunning(kube, 'plain');
    expect(state.plan.nodes.map((n) => n.name)).toContain(plain.spec!.nodeName);
    expect(await decisions(state.kube!.extender!.url, 'plain')).toEqual([]);
  });

  it("a pod whose max-rtt no node meets stays Pending, and FailedScheduling carries lpm's reason", async () => {
    // peers on core (db, above) and on edge-a: every node is more than 3 ms (RTT) from one of them
    await createPod(kube, pod({ name: 'cache', labels: { app: 'cache' }, nodeName: 'edge-a' }));
    await waitRunning(kube, 'cache');
    const strict = pod({
      name: 'strict',
      annotations: { 'lpm.l2sm.io/peers': 'app in (db,cache)', 'lpm.l2sm.io/max-rtt': '3ms' },
      schedulerName: 'lpm-scheduler',
    });
    // wait for fresh RTTs: until the extender itself rejects every node for this pod
    const nodeNames = state.plan.nodes.map((n) => n.name);
    await waitFor(
      'the extender to filter every node for max-rtt 3ms',
      async () => {
        const res = await request(`${state.kube!.extender!.url}/filter`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ Pod: strict, NodeNames: nodeNames }),
        });
        const body = (await res.body.json()) as { NodeNames?: string[] | null };
        return (body.NodeNames ?? []).length === 0 ? true : undefined;
      },
      90_000,
      500,
    );
    await createPod(kube, strict);
    const ev = await waitEvent(kube, 'strict', 'FailedScheduling', /lpm: /);
    expect(ev.message).toMatch(/0\/4 nodes are available/);
    expect(ev.message).toMatch(/lpm: RTT to (core|edge-a)/i);
    const p = await readPod(kube, 'strict');
    expect(p?.spec?.nodeName).toBeUndefined();
    expect(p?.status?.phase).toBe('Pending');
  });

  it("runs a pod's lab command in its node's namespace, reachable at the pod IP; deleting the pod stops it", async () => {
    const ns = node('edge-b').netns;
    await createPod(
      kube,
      pod({
        name: 'iperf',
        nodeName: 'edge-b',
        annotations: { 'lpm.l2sm.io/lab-command': JSON.stringify(['iperf3', '-s', '-p', '5299']) },
      }),
    );
    const p = await waitRunning(kube, 'iperf');
    expect(p.status!.podIP).toBe(node('edge-b').overlayAddress);
    const pid = workloadPid(p.status!.containerStatuses?.[0]?.containerID);
    expect(pid, JSON.stringify(p.status!.containerStatuses)).toBeGreaterThan(0);
    expect((await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0')[0]).toBe('iperf3');
    // the same network namespace as the node
    const { statSync } = await import('node:fs');
    expect(statSync(`/proc/${pid}/ns/net`).ino).toBe(statSync(`/run/netns/${ns}`).ino);
    // and serving on the overlay: a client on edge-a reaches it at the pod IP
    const client = await waitFor(
      'iperf3 client from edge-a',
      async () => {
        const r = await execa('ip', ['netns', 'exec', node('edge-a').netns, 'iperf3', '-c', p.status!.podIP!, '-p', '5299', '-t', '1', '-J'], { reject: false, timeout: 20_000 });
        return r.exitCode === 0 ? r : undefined;
      },
      30_000,
      500,
    );
    expect(JSON.parse(client.stdout).end.sum_received.bytes).toBeGreaterThan(0);
    const started = await waitEvent(kube, 'iperf', 'Started', /network namespace lpm-tkube-edge-b/);
    expect(started.source?.component).toBe('lpm-hollow-kubelet');

    const del = await kubectl(kube, ['delete', 'pod', 'iperf', '--timeout=60s']);
    expect(del.exitCode, del.stderr).toBe(0);
    expect(await readPod(kube, 'iperf')).toBeUndefined();
    expect(existsSync(`/proc/${pid}`)).toBe(false);
  });

  it('lab status shows the control plane; lab down removes every process, the etcd data and the kubeconfig', async () => {
    const st = await lpm(['lab', 'status', LAB]);
    expect(st.exitCode, st.stderr).toBe(0);
    expect(st.stdout).toContain(`kubernetes ${kubeBins().version} at ${state.kube!.server}, kubeconfig ${state.kube!.kubeconfig}`);
    for (const name of ['etcd', 'kube-apiserver', 'lpm-extender', 'default-scheduler', 'lpm-scheduler', 'hollow-kubelet'])
      expect(st.stdout).toMatch(new RegExp(`^\\s+${name}\\s+\\d+\\s+running\\s`, 'm'));
    const procs = kubeProcesses(state.kube);
    expect(procs).toHaveLength(6);
    for (const p of procs) expect(await isAlive(p), p.marker).toBe(true);

    const down = await lpm(['lab', 'down', LAB]);
    expect(down.exitCode, down.stderr).toBe(0);
    for (const p of [...procs, ...state.agents, state.emulator!]) expect(await isAlive(p), p.marker).toBe(false);
    expect(existsSync(kubeDir(LAB))).toBe(false);
    expect(existsSync(state.kube!.kubeconfig)).toBe(false);
    expect((await listNetns()).filter((n) => n.startsWith(`lpm-${LAB}-`))).toEqual([]);
  });
});
