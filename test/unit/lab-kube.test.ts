// `lab up --kube`, the pure parts: topology labels/capacity, the Node objects, the two scheduler
// configurations (lpm-scheduler = the shipped file with the lab's URL), the extender config, the
// token file and kubeconfigs, the shipped RBAC as objects, the lab-command annotation, the pod
// status the hollow kubelet writes, and where the binaries are looked for.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import type { V1Pod } from '@kubernetes/client-node';
import { parseYamlConfig } from '../../src/config/loadYaml.js';
import { extenderConfigSchema } from '../../extender/config.js';
import { topologySchema } from '../../scenarios/topology.js';
import { planLab } from '../../scenarios/lab/plan.js';
import { findKubeBinaries, parseKubeVersion } from '../../scenarios/lab/kube/binaries.js';
import { kubeletRbac, manifestObjects, shippedRbac } from '../../scenarios/lab/kube/bootstrap.js';
import { apiserverArgs, etcdArgs, tokenFileText } from '../../scenarios/lab/kube/controlPlane.js';
import { agentIntervals, labExtenderConfig } from '../../scenarios/lab/kube/extender.js';
import { kubeconfigText } from '../../scenarios/lab/kube/kubeconfig.js';
import { nodeObject } from '../../scenarios/lab/kube/nodes.js';
import { extensionsFile } from '../../scenarios/lab/kube/pki.js';
import { podStatusPatch, workloadPid, type HollowNode } from '../../scenarios/lab/kube/podStatus.js';
import { defaultSchedulerConfig, lpmSchedulerConfig, schedulerArgs } from '../../scenarios/lab/kube/schedulers.js';
import { kubeMarker, kubeProcesses } from '../../scenarios/lab/kube/state.js';
import { LAB_COMMAND_ANNOTATION, podWorkload } from '../../scenarios/lab/kube/workload.js';
import { isCI } from '../helpers/capability.js';
import { configProblems } from '../helpers/configProblems.js';

const ROOT = join(import.meta.dirname, '..', '..');
const topoText = `
name: tk
nodes:
  - { name: a, labels: { topology.kubernetes.io/zone: edge, gpu: "true" }, capacity: { cpu: 16, memory: 32Gi } }
  - b
links:
  - { from: a, to: b, delay: 2ms }
agent:
  measurements:
    - { type: rtt, interval: 2s }
    - { type: bandwidth, interval: 60s }
`;
const topo = parseYamlConfig(topoText, topologySchema, 'lab.yaml');
const plan = planLab(topo, '10.251.9.0/24');

describe('topology: per-node labels and capacity', () => {
  it('are optional, kept as strings, and carried into the plan', () => {
    expect(topo.nodes[0]).toEqual({
      name: 'a',
      address: '10.200.0.1',
      labels: { 'topology.kubernetes.io/zone': 'edge', gpu: 'true' },
      capacity: { cpu: '16', memory: '32Gi' },
    });
    expect(topo.nodes[1]).toEqual({ name: 'b', address: '10.200.0.2' });
    expect(plan.nodes[0]!.labels).toEqual({ 'topology.kubernetes.io/zone': 'edge', gpu: 'true' });
    expect(plan.nodes[0]!.capacity).toEqual({ cpu: '16', memory: '32Gi' });
    expect('labels' in plan.nodes[1]!).toBe(false);
  });

  it('rejects what Kubernetes would', () => {
    const p = (node: string) => configProblems(() => parseYamlConfig(`name: tk\nnodes:\n  - ${node}\n`, topologySchema, 'lab.yaml'));
    expect(p('{ name: a, capacity: { cpu: lots } }')[0]).toMatch(/lab\.yaml:3: nodes\[0\]\.capacity\.cpu: "lots" is not a Kubernetes quantity/);
    expect(p('{ name: a, capacity: { memory: -1 } }')[0]).toMatch(/capacity\.memory/);
    expect(p('{ name: a, labels: { "bad key!": x } }')[0]).toMatch(/is not a Kubernetes label key/);
    expect(p('{ name: a, labels: { ok: "no spaces" } }')[0]).toMatch(/is not a Kubernetes label value/);
    const ok = parseYamlConfig('name: tk\nnodes:\n  - { name: a, capacity: { cpu: 500m, memory: 1.5Gi, pods: 30, ephemeral-storage: 1e9 } }\n', topologySchema, 'lab.yaml');
    expect(ok.nodes[0]!.capacity).toEqual({ cpu: '500m', memory: '1.5Gi', pods: '30', 'ephemeral-storage': '1000000000' }); // YAML reads 1e9 as a number
  });
});

describe('Node objects', () => {
  it('name, labels (standard + topology), capacity = allocatable with defaults, Ready, addresses', () => {
    const n = nodeObject(plan, plan.nodes[0]!, 'v1.26.1', new Date('2025-01-01T00:00:00Z'));
    expect(n.metadata!.name).toBe('a');
    expect(n.metadata!.labels).toMatchObject({
      'kubernetes.io/hostname': 'a',
      'kubernetes.io/os': 'linux',
      'lpm.l2sm.io/lab': 'tk',
      'topology.kubernetes.io/zone': 'edge',
    });
    expect(n.status!.capacity).toEqual({ cpu: '16', memory: '32Gi', pods: '110' });
    expect(n.status!.allocatable).toEqual(n.status!.capacity);
    expect(n.status!.conditions!.find((c) => c.type === 'Ready')!.status).toBe('True');
    expect(n.status!.addresses).toEqual([
      { type: 'InternalIP', address: '10.251.9.1' },
      { type: 'Hostname', address: 'a' },
    ]);
    expect(n.metadata!.annotations!['lpm.l2sm.io/overlay-address']).toBe('10.200.0.1');
    expect(nodeObject(plan, plan.nodes[1]!, 'v1.26.1').status!.capacity).toEqual({ cpu: '4', memory: '8Gi', pods: '110' });
  });
});

describe('kube-scheduler configurations', () => {
  const shipped = readFileSync(join(ROOT, 'manifests', 'base', 'lpm-scheduler-config.yaml'), 'utf8');
  const original = parse(shipped) as Record<string, unknown> & { extenders: Record<string, unknown>[] };

  it('lpm-scheduler: the shipped file with only the extender URL and the client connection changed', () => {
    const cfg = lpmSchedulerConfig(shipped, { extenderUrl: 'http://127.0.0.1:4321', kubeconfig: '/x/lpm-scheduler.kubeconfig' });
    expect(cfg.extenders).toEqual(original.extenders.map((e) => ({ ...e, urlPrefix: 'http://127.0.0.1:4321' })));
    expect(cfg.clientConnection).toEqual({ kubeconfig: '/x/lpm-scheduler.kubeconfig', qps: 200, burst: 400 });
    const { extenders: _a, clientConnection: _b, ...rest } = cfg;
    const { extenders: _c, clientConnection: _d, ...restOriginal } = original;
    expect(rest).toEqual(restOriginal); // profiles, percentageOfNodesToScore, its own lease
    expect(cfg.leaderElection).toMatchObject({ resourceNamespace: 'lpm-system', resourceName: 'lpm-scheduler' });
  });

  it('lpm-scheduler with overrides (the test knobs)', () => {
    const cfg = lpmSchedulerConfig(shipped, {
      extenderUrl: 'http://127.0.0.1:1',
      kubeconfig: '/k',
      overrides: { nodeCacheCapable: false, ignorable: false },
    });
    expect(cfg.extenders![0]).toMatchObject({ nodeCacheCapable: false, ignorable: false, weight: original.extenders[0]!.weight });
  });

  it('refuses a file that is not the lpm-scheduler configuration', () => {
    expect(() => lpmSchedulerConfig('kind: Pod\n', { extenderUrl: 'http://x', kubeconfig: '/k' })).toThrow(/not a KubeSchedulerConfiguration/);
    expect(() =>
      lpmSchedulerConfig('kind: KubeSchedulerConfiguration\nprofiles: [{schedulerName: x}]\nextenders: [{urlPrefix: u}]\n', { extenderUrl: 'http://x', kubeconfig: '/k' }),
    ).toThrow(/no profile named lpm-scheduler/);
  });

  it('default-scheduler: no extender, its usual lease; both serve on loopback with delegated auth kubeconfigs', () => {
    const cfg = defaultSchedulerConfig('/k');
    expect(cfg.extenders).toBeUndefined();
    expect(cfg.profiles).toEqual([{ schedulerName: 'default-scheduler' }]);
    expect(cfg.leaderElection).toMatchObject({ resourceNamespace: 'kube-system', resourceName: 'kube-scheduler' });
    expect(schedulerArgs('/c.yaml', 10300, '/k')).toEqual([
      '--config=/c.yaml',
      '--secure-port=10300',
      '--bind-address=127.0.0.1',
      '--authentication-kubeconfig=/k',
      '--authorization-kubeconfig=/k',
      '--v=2',
    ]);
  });
});

describe('control plane arguments and credentials', () => {
  it('etcd on loopback ports with its own data dir', () => {
    const a = etcdArgs({ lab: 'tk', dir: '/run/lpm/labs/tk.kube', bin: 'etcd', clientPort: 2000, peerPort: 2001 });
    expect(a).toEqual(expect.arrayContaining(['--data-dir', '/run/lpm/labs/tk.kube/etcd-data', '--listen-client-urls', 'http://127.0.0.1:2000']));
    expect(a.join(' ')).toContain('--initial-cluster lpm-tk=http://127.0.0.1:2001');
  });

  it('kube-apiserver: loopback, RBAC, service-account keys, no controller-dependent admission plugins', () => {
    const a = apiserverArgs({
      dir: '/d',
      bin: { dir: '/b', apiserver: '/b/kube-apiserver', scheduler: '/b/kube-scheduler', etcd: 'etcd', version: 'v1.26.1', etcdVersion: '3.4' },
      pki: { caCert: 'ca.crt', caKey: 'ca.key', servingCert: 's.crt', servingKey: 's.key', adminCert: 'a.crt', adminKey: 'a.key', saKey: 'sa.key', saPub: 'sa.pub' },
      etcdPort: 2000,
      port: 6443,
      tokenFile: '/d/tokens.csv',
    });
    expect(a).toEqual(
      expect.arrayContaining([
        '--etcd-servers=http://127.0.0.1:2000',
        '--bind-address=127.0.0.1',
        '--secure-port=6443',
        '--authorization-mode=RBAC',
        '--client-ca-file=ca.crt',
        '--token-auth-file=/d/tokens.csv',
        '--service-account-key-file=sa.pub',
        '--service-account-signing-key-file=sa.key',
        '--disable-admission-plugins=ServiceAccount,TaintNodesByCondition',
      ]),
    );
  });

  it('token file lines, and refuses what would break the CSV', () => {
    expect(tokenFileText([{ token: 't1', user: 'system:kube-scheduler', uid: 'u1', groups: [] }, { token: 't2', user: 'x', uid: 'x', groups: ['g1', 'g2'] }])).toBe(
      't1,system:kube-scheduler,u1\nt2,x,x,"g1,g2"\n',
    );
    expect(() => tokenFileText([{ token: 't', user: 'a,b', uid: 'u', groups: [] }])).toThrow(/comma/);
  });

  it('certificate extensions: serving names 127.0.0.1, client certificates are client-only', () => {
    expect(extensionsFile('server', ['IP:127.0.0.1', 'DNS:localhost'])).toContain('subjectAltName=IP:127.0.0.1,DNS:localhost');
    expect(extensionsFile('server')).toContain('extendedKeyUsage=serverAuth');
    expect(extensionsFile('client')).toContain('extendedKeyUsage=clientAuth');
  });

  it('kubeconfigs are self-contained, with a token or a client certificate', () => {
    const t = parse(kubeconfigText({ name: 'lpm-lab-tk', server: 'https://127.0.0.1:6443', caData: 'Q0E=', userName: 'u', user: { token: 'tok' } }));
    expect(t['current-context']).toBe('lpm-lab-tk');
    expect(t.clusters[0].cluster).toEqual({ server: 'https://127.0.0.1:6443', 'certificate-authority-data': 'Q0E=' });
    expect(t.users[0]).toEqual({ name: 'u', user: { token: 'tok' } });
    const c = parse(kubeconfigText({ name: 'n', server: 's', caData: 'c', userName: 'admin', user: { clientCertificateData: 'CRT', clientKeyData: 'KEY' } }));
    expect(c.users[0].user).toEqual({ 'client-certificate-data': 'CRT', 'client-key-data': 'KEY' });
  });

  it('state: down finds every control-plane process by the lab folder in its command line', () => {
    process.env.LPM_LAB_DIR = '/run/lpm/labs';
    expect(kubeMarker('tk')).toBe('/run/lpm/labs/tk.kube/');
    expect(kubeMarker('tk').startsWith(kubeMarker('t').slice(0, -1))).toBe(false);
    const p = (pid: number) => ({ pid, marker: `m${pid}`, log: 'l' });
    expect(
      kubeProcesses({
        dir: 'd', bin: 'b', etcdBin: 'e', version: 'v', server: 's', kubeconfig: 'k',
        ports: { etcdClient: 1, etcdPeer: 2, apiserver: 3, extender: 4, defaultScheduler: 5, lpmScheduler: 6 },
        etcd: p(1), apiserver: p(2), extender: { ...p(3), url: 'u', config: 'c', source: 'direct' },
        schedulers: [{ ...p(4), name: 'default-scheduler', port: 5, config: 'c' }], kubelet: p(5), nodes: [],
      }).map((x) => x.pid),
    ).toEqual([5, 4, 3, 2, 1]); // kubelet (workloads) first, etcd last
    delete process.env.LPM_LAB_DIR;
  });
});

describe('RBAC put into the lab API', () => {
  it('the shipped namespace and roles, namespaced objects in lpm-system', async () => {
    const objs = await shippedRbac();
    const ids = objs.map((o) => `${o.kind}/${o.metadata!.namespace ? `${o.metadata!.namespace}/` : ''}${o.metadata!.name}`);
    expect(ids).toEqual(
      expect.arrayContaining([
        'Namespace/lpm-system',
        'ServiceAccount/lpm-system/lpm-extender',
        'ClusterRoleBinding/lpm-extender',
        'ServiceAccount/lpm-system/lpm-scheduler',
        'Role/lpm-system/lpm-scheduler-leader-election',
      ]),
    );
  });

  it('manifestObjects: kustomize-like namespace default, cluster-scoped kinds left alone', () => {
    const objs = manifestObjects(['apiVersion: v1\nkind: ServiceAccount\nmetadata: { name: a }\n---\napiVersion: v1\nkind: Namespace\nmetadata: { name: n }\n']);
    expect(objs.map((o) => o.metadata!.namespace)).toEqual(['lpm-system', undefined]);
    expect(() => manifestObjects(['kind: X\n'])).toThrow(/without kind, apiVersion or metadata.name/);
  });

  it('the hollow kubelet may write pod status and delete pods, nothing on secrets', () => {
    const [role] = kubeletRbac() as [{ rules: { resources: string[]; verbs: string[] }[] }];
    const res = role.rules.flatMap((r) => r.resources);
    expect(res).toEqual(expect.arrayContaining(['pods', 'pods/status', 'events']));
    expect(res).not.toContain('secrets');
  });
});

describe('the lab extender config', () => {
  it('direct: every agent; staleness from the agents intervals; Kubernetes on; valid for the extender', () => {
    const state = { plan, agentExtra: topo.agent! };
    expect(agentIntervals(state)).toEqual({ rtt: 2, bandwidth: 60 });
    const cfg = labExtenderConfig(state, { port: 4321, kubeconfig: '/k', source: { type: 'direct' } });
    const parsed = extenderConfigSchema.parse(cfg);
    expect(parsed.listen).toBe('127.0.0.1:4321');
    expect(parsed.source).toMatchObject({ type: 'direct', agents: ['http://10.251.9.1:9105', 'http://10.251.9.2:9105'] });
    expect(parsed.staleness).toMatchObject({ rttInterval: 2, bandwidthInterval: 60 });
    expect(parsed.kubernetes).toMatchObject({ enabled: true, kubeconfig: '/k' });
  });

  it('prometheus: the lab Prometheus at its scrape interval', () => {
    const cfg = extenderConfigSchema.parse(
      labExtenderConfig({ plan }, { port: 1, kubeconfig: '/k', source: { type: 'prometheus', url: 'http://127.0.0.1:9090', interval: 2 } }),
    );
    expect(cfg.source).toMatchObject({ type: 'prometheus', url: 'http://127.0.0.1:9090', interval: 2 });
  });
});

const podWith = (annotations: Record<string, string>, container: Record<string, unknown> = {}): V1Pod => ({
  metadata: { name: 'p', namespace: 'default', annotations },
  spec: { containers: [{ name: 'main', image: 'x', ...container }] },
});

describe(`the ${LAB_COMMAND_ANNOTATION} annotation`, () => {
  it('absent: nothing runs', () => {
    expect(podWorkload(podWith({}))).toEqual({ kind: 'none' });
    expect(podWorkload(podWith({}, { command: ['nginx'] }))).toEqual({ kind: 'none' }); // never by surprise
  });

  it('a JSON argument vector, with the container env values', () => {
    expect(
      podWorkload(podWith({ [LAB_COMMAND_ANNOTATION]: '["iperf3", "-s", "-p", "5201"]' }, { env: [{ name: 'A', value: '1' }, { name: 'B', valueFrom: {} }] })),
    ).toEqual({ kind: 'command', argv: ['iperf3', '-s', '-p', '5201'], env: { A: '1' }, container: 'main' });
  });

  it('"container": the first container command + args', () => {
    expect(podWorkload(podWith({ [LAB_COMMAND_ANNOTATION]: 'container' }, { command: ['sleep'], args: ['60'] }))).toMatchObject({
      kind: 'command',
      argv: ['sleep', '60'],
    });
    expect(podWorkload(podWith({ [LAB_COMMAND_ANNOTATION]: 'container' }))).toMatchObject({ kind: 'invalid', error: expect.stringMatching(/no command or args/) });
  });

  it('anything else is refused with how to write it (never handed to a shell)', () => {
    for (const v of ['iperf3 -s', '[]', '["a", 1]', '[""]', '{"a":1}', '["unclosed"'])
      expect(podWorkload(podWith({ [LAB_COMMAND_ANNOTATION]: v })).kind, v).toBe('invalid');
    expect(podWorkload(podWith({ [LAB_COMMAND_ANNOTATION]: 'iperf3 -s' }))).toMatchObject({ error: expect.stringMatching(/JSON list of strings/) });
  });
});

describe('the status the hollow kubelet writes', () => {
  const node: HollowNode = { name: 'a', netns: 'lpm-tk-a', podIP: '10.200.0.1', hostIP: '10.251.9.1' };
  const t0 = new Date('2025-01-01T00:00:00.123Z');
  const p: V1Pod = { metadata: { name: 'p' }, spec: { containers: [{ name: 'main', image: 'x' }, { name: 'side', image: 'y' }] } };

  it('Running: overlay pod IP, underlay host IP, ready, the workload PID as container ID', () => {
    const { status } = podStatusPatch(p, node, { phase: 'Running', container: { state: 'running', startedAt: t0, pid: 42 }, restartCount: 0, startTime: t0 }, t0);
    expect(status).toMatchObject({ phase: 'Running', podIP: '10.200.0.1', podIPs: [{ ip: '10.200.0.1' }], hostIP: '10.251.9.1', startTime: '2025-01-01T00:00:00Z' });
    const cs = status.containerStatuses as { name: string; ready: boolean; containerID?: string; state: object }[];
    expect(cs.map((c) => [c.name, c.ready, c.containerID])).toEqual([
      ['main', true, 'lpm-lab://42'],
      ['side', true, undefined],
    ]);
    expect(workloadPid(cs[0]!.containerID)).toBe(42);
    expect(workloadPid('containerd://abc')).toBeUndefined();
    const conds = status.conditions as { type: string; status: string }[];
    expect(conds.map((c) => `${c.type}=${c.status}`)).toEqual(['Initialized=True', 'ContainersReady=True', 'Ready=True']);
  });

  it('Failed: terminated with the exit code, not ready; back-off: waiting with the last termination', () => {
    const term = { exitCode: 3, reason: 'Error', startedAt: t0, finishedAt: t0 };
    const failed = podStatusPatch(p, node, { phase: 'Failed', container: { state: 'terminated', termination: term, pid: 7 }, restartCount: 0, startTime: t0 }, t0).status;
    expect((failed.containerStatuses as { state: { terminated: { exitCode: number } } }[])[0]!.state.terminated.exitCode).toBe(3);
    expect((failed.conditions as { type: string; status: string; reason?: string }[])[2]).toMatchObject({ type: 'Ready', status: 'False', reason: 'PodCompleted' });
    const backoff = podStatusPatch(
      p,
      node,
      { phase: 'Running', container: { state: 'waiting', reason: 'CrashLoopBackOff' }, restartCount: 2, lastTermination: term, startTime: t0 },
      t0,
    ).status;
    const c0 = (backoff.containerStatuses as { restartCount: number; ready: boolean; state: object; lastState: object }[])[0]!;
    expect(c0).toMatchObject({ restartCount: 2, ready: false, state: { waiting: { reason: 'CrashLoopBackOff' } }, lastState: { terminated: { exitCode: 3 } } });
  });
});

describe('finding the binaries', () => {
  it('parses kube versions', () => {
    expect(parseKubeVersion('Kubernetes v1.26.1')).toEqual({ version: 'v1.26.1', minor: 26 });
    expect(parseKubeVersion('Kubernetes v1.32.4-gke.1')).toEqual({ version: 'v1.32.4-gke.1', minor: 32 });
    expect(parseKubeVersion('nothing')).toBeUndefined();
  });

  it('not found: the error names --kube-bin, LPM_KUBE_BIN and where to get them', async () => {
    await expect(findKubeBinaries(undefined, { PATH: '/nonexistent' })).rejects.toThrow(
      /--kube-bin DIR or the LPM_KUBE_BIN environment variable.*kubernetes-server-linux-amd64\.tar\.gz/,
    );
    await expect(findKubeBinaries('/nonexistent/bin', {})).rejects.toThrow(/--kube-bin \/nonexistent\/bin: no executable kube-apiserver or kube-scheduler there/);
    await expect(findKubeBinaries(undefined, { LPM_KUBE_BIN: '/nonexistent/bin' })).rejects.toThrow(/^LPM_KUBE_BIN \/nonexistent\/bin/);
  });

  it('CI detection for the capability helper', () => {
    expect(isCI({ CI: 'true' })).toBe(true);
    expect(isCI({ CI: '1' })).toBe(true);
    expect(isCI({ CI: 'false' })).toBe(false);
    expect(isCI({})).toBe(false);
  });
});
