// The shipped manifests against a real Kubernetes API (etcd + kube-apiserver v1.26 on loopback,
// test/helpers/kubeApiserver.ts; kubectl is the shipped one, by its full path):
// - every overlay, as `kubectl kustomize` renders it, passes `kubectl apply --server-side
//   --dry-run=server` with no warning at all (PodSecurity warnings included), after the CRDs the
//   manifests ship (and L2S-M's L2Network, a test fixture) and the namespaces exist;
// - Pod Security: the lpm-system namespace enforces "restricted", and a Pod made of each workload's
//   pod template is admitted by that level (a server-side dry-run; the agent's pod for real), while
//   the agent's old security context (NET_RAW, privilege escalation) is refused;
// - RBAC, applied for real: `lpm extender` and `lpm agent` (the built CLI) run with kubeconfigs
//   carrying their ServiceAccounts' tokens from the TokenRequest API. Both list and watch pods (a
//   pod created after they are ready reaches them), get ready, and never meet a 403; the extender
//   records a Kubernetes Event. Every rule the manifests grant them is one the code needs, and
//   `kubectl auth can-i --as=system:serviceaccount:...` shows they can do that and not more;
// - ping without any privilege: in a network namespace with the agent pod's
//   net.ipv4.ping_group_range, as the pod's uid/gid with no capability and no_new_privs, a ping
//   binary like the image's (no file capability) runs the agent's ping command lines, and the
//   agent itself measures; a ping with Debian's cap_net_raw+ep cannot even be executed.
import { copyFile, chmod, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, KubeConfig, type CoreV1Event } from '@kubernetes/client-node';
import { execa, type ResultPromise } from 'execa';
import { parse as parseYaml, parseAllDocuments, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pingArgs } from '../../agent/tools/ping.js';
import { parsePingOutput } from '../../agent/tools/pingOutput.js';
import { EVENT_REASON } from '../../extender/events.js';
import { PEERS_ANNOTATION } from '../../extender/peers/peerAnnotations.js';
import { addNetns, deleteNetns, inNetns } from '../../scenarios/lab/ip.js';
import { serviceAccountToken } from '../../scenarios/lab/kube/bootstrap.js';
import { writeKubeconfig } from '../../scenarios/lab/kube/kubeconfig.js';
import { freeLoopbackPort } from '../../scenarios/lab/prometheus.js';
import {
  built,
  describeWithCapabilities,
  iperf3,
  kubeBinaries,
  kubeBins,
  missingCapabilities,
  netns,
  openssl,
  ping,
  ROOT,
  setcap,
  setpriv,
} from '../helpers/capability.js';
import { startTestApiserver, type TestApiserver } from '../helpers/kubeApiserver.js';
import { kubectlBinary, kubectlPath, kustomizeText, objectKey, parseYamlObjects, podSpecsOf, type K8sObject } from '../helpers/kustomize.js';
import { waitFor } from '../helpers/waitFor.js';

const M = join(ROOT, 'manifests');
const BIN = join(ROOT, 'bin', 'lpm.js');
const NS = 'lpm-system';
const L2NETWORK_CRD = join(ROOT, 'test', 'fixtures', 'l2sm', 'l2network-crd.yaml');
const OVERLAYS = (await readdir(join(M, 'overlays'), { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => `overlays/${d.name}`).sort();
/** The overlay whose RBAC and pod templates run for real (the default install). */
const INSTALL = 'overlays/default';

const toYaml = (objects: object[]) => objects.map((o) => stringify(o)).join('---\n');

/** Every Kubernetes object in the YAML files under manifests/ (config files and unparsable ones skipped). */
async function shippedObjects(): Promise<{ file: string; object: K8sObject }[]> {
  const out: { file: string; object: K8sObject }[] = [];
  for (const entry of await readdir(M, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !/\.ya?ml$/.test(entry.name) || /^kustomization\.ya?ml$/.test(entry.name)) continue;
    const file = join(entry.parentPath, entry.name);
    for (const doc of parseAllDocuments(await readFile(file, 'utf8'))) {
      const o = doc.errors.length ? undefined : (doc.toJS() as Partial<K8sObject> | null);
      if (o && typeof o.kind === 'string' && typeof o.apiVersion === 'string' && o.metadata?.name) out.push({ file, object: o as K8sObject });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Part 1: the API server (dry-run applies, Pod Security, RBAC, the components under their tokens)
// ---------------------------------------------------------------------------------------------

const missingApi = await missingCapabilities([built(), openssl(), kubeBinaries(), iperf3(), ping()]);

let dir = '';
let api: TestApiserver | undefined;
let kc: KubeConfig;
let core: CoreV1Api;
const rendered = new Map<string, { text: string; objects: K8sObject[] }>();
const procs: { name: string; proc: ResultPromise; log: () => string }[] = [];

interface Run {
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
}
/** kubectl (the shipped one) as the admin; never throws: the exit code and output are the result. */
async function kubectl(args: string[], input?: string): Promise<Run> {
  const r = await execa(kubeBins().kubectl!, ['--kubeconfig', api!.kubeconfig, ...args], {
    reject: false,
    timeout: 120_000,
    ...(input !== undefined ? { input } : { stdin: 'ignore' }),
  });
  return { exitCode: r.exitCode, stdout: String(r.stdout), stderr: String(r.stderr) };
}
/** kubectl that must succeed without a word on stderr (warnings are failures). */
async function kubectlClean(args: string[], input?: string): Promise<string> {
  const r = await kubectl(args, input);
  expect({ args: args.join(' '), exitCode: r.exitCode, stderr: r.stderr }).toEqual({ args: args.join(' '), exitCode: 0, stderr: '' });
  return r.stdout;
}

function startLpm(name: string, args: string[], env: Record<string, string> = {}): void {
  let out = '';
  const proc = execa(process.execPath, [BIN, ...args], { reject: false, stdin: 'ignore', all: true, buffer: false, env: { LPM_LOG_LEVEL: 'info', ...env } });
  proc.all?.on('data', (c: Buffer) => void (out += c.toString('utf8')));
  procs.push({ name, proc, log: () => out });
}
const logOf = (name: string) => procs.find((p) => p.name === name)?.log() ?? '';

async function httpStatus(url: string): Promise<number> {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(5000) })).status;
  } catch {
    return 0;
  }
}

async function cleanupApi(): Promise<void> {
  for (const { proc } of procs) if (proc.pid && proc.exitCode === null) proc.kill('SIGKILL');
  await Promise.allSettled(procs.map((p) => p.proc));
  try {
    await api?.stop();
  } finally {
    if (dir) await rm(dir, { recursive: true, force: true });
  }
}

describeWithCapabilities('the shipped manifests against kube-apiserver v1.26', missingApi, () => {
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lpm-manifests-api-'));
    try {
      for (const o of ['base', ...OVERLAYS]) {
        const text = await kustomizeText(join(M, o), kubeBins().kubectl);
        rendered.set(o, { text, objects: parseYamlObjects(text, o) });
      }
      api = await startTestApiserver(kubeBins());
      kc = new KubeConfig();
      kc.loadFromFile(api.kubeconfig);
      core = kc.makeApiClient(CoreV1Api);

      // CRDs before the custom resources: every CRD shipped under manifests/, plus L2S-M's
      // L2Network when an overlay uses one (L2S-M installs it on a real cluster).
      const crds = (await shippedObjects()).filter((s) => s.object.kind === 'CustomResourceDefinition').map((s) => s.object);
      const usesL2Network = [...rendered.values()].some((r) => r.objects.some((o) => o.kind === 'L2Network'));
      if (usesL2Network) crds.push(...parseYamlObjects(await readFile(L2NETWORK_CRD, 'utf8'), L2NETWORK_CRD));
      if (crds.length) {
        await kubectlClean(['apply', '--server-side', '-f', '-'], toYaml(crds));
        await kubectlClean(['wait', '--for=condition=Established', '--timeout=60s', ...crds.map((c) => `crd/${c.metadata.name}`)]);
      }
      // A namespaced object needs its namespace, even in a dry run: the namespaces for real.
      const namespaces = [...rendered.values()].flatMap((r) => r.objects.filter((o) => o.kind === 'Namespace'));
      await kubectlClean(['apply', '--server-side', '-f', '-'], toYaml(namespaces));
    } catch (err) {
      await cleanupApi();
      throw err;
    }
  }, 300_000);

  afterAll(cleanupApi, 60_000);

  it.each(['base', ...OVERLAYS])('%s: `kubectl apply --server-side --dry-run=server` accepts every object, without a warning', async (name) => {
    const { text, objects } = rendered.get(name)!;
    const stdout = await kubectlClean(['apply', '--server-side', '--dry-run=server', '-f', '-'], text);
    // one "serverside-applied (server dry run)" line per object
    expect(stdout.trim().split('\n').filter((l) => / serverside-applied \(server dry run\)$/.test(l))).toHaveLength(objects.length);
  });

  it('every NetworkPolicy shipped under manifests/ is in an overlay (so the dry runs above checked it), or passes its own dry run', async () => {
    const inOverlays = new Set(OVERLAYS.flatMap((o) => rendered.get(o)!.objects.filter((x) => x.kind === 'NetworkPolicy').map((x) => x.metadata.name)));
    const shipped = (await shippedObjects()).filter((s) => s.object.kind === 'NetworkPolicy');
    expect(shipped.length, 'NetworkPolicies under manifests/').toBeGreaterThan(0);
    const alone = shipped.filter((s) => !inOverlays.has(s.object.metadata.name));
    for (const { file, object } of alone) {
      const o = { ...object, metadata: { namespace: NS, ...object.metadata } };
      const stdout = await kubectlClean(['apply', '--server-side', '--dry-run=server', '-f', '-'], toYaml([o]));
      expect(stdout, file).toMatch(/serverside-applied \(server dry run\)/);
    }
  });

  it('lpm-system enforces Pod Security "restricted", and admits a Pod made of every workload\'s pod template without a warning', async () => {
    const ns = await core.readNamespace({ name: NS });
    for (const mode of ['enforce', 'warn', 'audit']) expect(ns.metadata?.labels?.[`pod-security.kubernetes.io/${mode}`], mode).toBe('restricted');
    for (const name of ['base', ...OVERLAYS]) {
      const pods = rendered.get(name)!.objects.flatMap((o) =>
        podSpecsOf(o).map(({ labels, spec }) => ({
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: `${o.metadata.name}-psa-check`, namespace: o.metadata.namespace ?? NS, labels },
          spec,
        })),
      );
      expect(pods.length, name).toBeGreaterThanOrEqual(5);
      const stdout = await kubectlClean(['apply', '--server-side', '--dry-run=server', '-f', '-'], toYaml(pods));
      expect(stdout.trim().split('\n'), name).toHaveLength(pods.length);
    }
  });

  it('the checks bite: the agent with its old security context (NET_RAW, privilege escalation) is refused as a Pod, and warned about as a DaemonSet', async () => {
    const ds = structuredClone(rendered.get(INSTALL)!.objects.find((o) => o.kind === 'DaemonSet' && o.metadata.name === 'lpm-agent')!);
    const { labels, spec } = podSpecsOf(ds)[0]!;
    spec.containers[0]!.securityContext = { allowPrivilegeEscalation: true, capabilities: { drop: ['ALL'], add: ['NET_RAW'] } };
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'lpm-agent-old', namespace: NS, labels }, spec };
    const refused = await kubectl(['apply', '--server-side', '--dry-run=server', '-f', '-'], toYaml([pod]));
    expect(refused.exitCode).not.toBe(0);
    expect(refused.stderr).toMatch(/violates PodSecurity "restricted:latest"/);
    expect(refused.stderr).toMatch(/allowPrivilegeEscalation != false/);
    expect(refused.stderr).toMatch(/must not include "NET_RAW"/);
    // A workload is only warned about (its pods would be refused): on stderr, where the dry runs
    // above look for warnings.
    const warned = await kubectl(['apply', '--server-side', '--dry-run=server', '-f', '-'], toYaml([ds]));
    expect(warned.exitCode).toBe(0);
    expect(warned.stderr).toMatch(/^Warning: would violate PodSecurity "restricted:latest": .*must not include "NET_RAW"/m);
  });

  describe('RBAC applied for real; the extender and an agent under their own ServiceAccount tokens', () => {
    const SA = (name: string) => `system:serviceaccount:${NS}:${name}`;
    /**
     * What each component calls, and so all that its ServiceAccount may do ("*" = every namespace):
     * the agent lists and watches the agent pods of its namespace (agent/kubeDiscovery.ts through
     * src/kube/podWatch.ts); the extender lists and watches pods everywhere (extender/pods/podCache.ts)
     * and creates Events on pods whose annotations it ignored (extender/events.ts, core group).
     */
    const NEEDS: Record<string, string[]> = {
      'lpm-agent': [`list pods @${NS}`, `watch pods @${NS}`],
      'lpm-extender': ['create events @*', 'list pods @*', 'watch pods @*'],
    };
    /** What they must not be able to do (namespace "*" = cluster-wide / --all-namespaces). */
    const DENIED: Record<string, [verb: string, resource: string, namespace: string][]> = {
      'lpm-agent': [
        ['list', 'pods', 'default'],
        ['list', 'pods', '*'],
        ['create', 'pods', NS],
        ['delete', 'pods', NS],
        ['patch', 'pods', NS],
        ['get', 'nodes', '*'],
        ['list', 'nodes', '*'],
        ['get', 'secrets', NS],
        ['list', 'configmaps', NS],
        ['create', 'events', NS],
        ['create', 'serviceaccounts/token', NS],
      ],
      'lpm-extender': [
        ['get', 'nodes', '*'],
        ['list', 'nodes', '*'],
        ['watch', 'nodes', '*'],
        ['get', 'secrets', NS],
        ['list', 'secrets', '*'],
        ['list', 'configmaps', '*'],
        ['create', 'pods', 'default'],
        ['update', 'pods', 'default'],
        ['patch', 'pods', 'default'],
        ['delete', 'pods', 'default'],
        ['create', 'pods/binding', 'default'],
        ['update', 'events', 'default'],
        ['patch', 'events', 'default'],
        ['delete', 'events', 'default'],
        ['create', 'leases.coordination.k8s.io', NS],
        ['create', 'serviceaccounts/token', NS],
      ],
    };

    const kubeconfigs: Record<string, string> = {};
    const ports: Record<string, number> = {};

    beforeAll(async () => {
      const objects = rendered.get(INSTALL)!.objects;
      const rbac = objects.filter((o) => ['ServiceAccount', 'Role', 'ClusterRole', 'RoleBinding', 'ClusterRoleBinding'].includes(o.kind));
      await kubectlClean(['apply', '--server-side', '-f', '-'], toYaml(rbac));
      const caData = kc.getCurrentCluster()!.caData!;
      for (const name of Object.keys(NEEDS)) {
        const token = await serviceAccountToken(kc, NS, name, 3600);
        kubeconfigs[name] = join(dir, `${name}.kubeconfig`);
        await writeKubeconfig(kubeconfigs[name], { name: 'lpm-test', server: api!.server, caData, userName: SA(name), user: { token } });
      }
      const taken = new Set<number>();
      for (const p of ['extender', 'agent', 'iperf3']) {
        let port = await freeLoopbackPort(0);
        while (taken.has(port)) port = await freeLoopbackPort(0);
        taken.add(port);
        ports[p] = port;
      }
    }, 120_000);

    it('every rule the manifests grant the agent and the extender is one their code needs, and nothing else', () => {
      const objects = rendered.get(INSTALL)!.objects;
      type Rule = { apiGroups?: string[]; resources?: string[]; verbs: string[]; resourceNames?: string[]; nonResourceURLs?: string[] };
      for (const [sa, needs] of Object.entries(NEEDS)) {
        const granted: string[] = [];
        for (const b of objects.filter((o) => o.kind === 'RoleBinding' || o.kind === 'ClusterRoleBinding')) {
          const subjects = (b.subjects as { kind: string; name: string; namespace?: string }[] | undefined) ?? [];
          if (!subjects.some((s) => s.kind === 'ServiceAccount' && s.name === sa && s.namespace === NS)) continue;
          const ref = b.roleRef as { kind: string; name: string };
          const role = objects.find((o) => o.kind === ref.kind && o.metadata.name === ref.name && (ref.kind === 'ClusterRole' || o.metadata.namespace === b.metadata.namespace));
          expect(role, `${objectKey(b)} binds ${ref.kind}/${ref.name}, which the manifests define`).toBeDefined();
          const scope = b.kind === 'ClusterRoleBinding' ? '*' : b.metadata.namespace!;
          for (const rule of (role!.rules as Rule[] | undefined) ?? []) {
            expect(rule.nonResourceURLs, `${objectKey(role!)}: non-resource URLs`).toBeUndefined();
            expect(rule.resourceNames, `${objectKey(role!)}: resourceNames`).toBeUndefined();
            for (const group of rule.apiGroups ?? [])
              for (const res of rule.resources ?? []) for (const verb of rule.verbs) granted.push(`${verb} ${res}${group ? `.${group}` : ''} @${scope}`);
          }
        }
        expect(granted.sort(), sa).toEqual([...needs].sort());
      }
    });

    it('`kubectl auth can-i` (the API server\'s authorizer): each ServiceAccount can do what it needs, and not more', async () => {
      const checks: { sa: string; verb: string; resource: string; namespace: string; want: 'yes' | 'no' }[] = [];
      for (const [sa, needs] of Object.entries(NEEDS))
        for (const n of needs) {
          const [, verb, resource, namespace] = /^(\S+) (\S+) @(\S+)$/.exec(n)!;
          checks.push({ sa, verb: verb!, resource: resource!, namespace: namespace!, want: 'yes' });
        }
      for (const [sa, denied] of Object.entries(DENIED)) for (const [verb, resource, namespace] of denied) checks.push({ sa, verb, resource, namespace, want: 'no' });
      const results: string[] = [];
      // a few kubectl processes at a time: the machine has two cores
      for (let i = 0; i < checks.length; i += 4) {
        const batch = await Promise.all(
          checks.slice(i, i + 4).map(async (c) => {
            const where = c.namespace === '*' ? ['--all-namespaces'] : ['-n', c.namespace];
            const r = await kubectl(['auth', 'can-i', c.verb, c.resource, ...where, `--as=${SA(c.sa)}`]);
            expect(r.exitCode === 0 || r.stdout.trim() === 'no', `${c.sa} ${c.verb} ${c.resource}: ${r.stderr}`).toBe(true);
            return `${c.sa}: ${c.verb} ${c.resource} @${c.namespace} -> ${r.stdout.trim()}`;
          }),
        );
        results.push(...batch);
      }
      expect(results).toEqual(checks.map((c) => `${c.sa}: ${c.verb} ${c.resource} @${c.namespace} -> ${c.want}`));
    });

    it('`lpm extender` and `lpm agent` start with their tokens, list and watch pods, get ready, record an Event, and never meet a 403', async () => {
      const objects = rendered.get(INSTALL)!.objects;
      const configMap = (name: string, key: string) =>
        parseYaml((objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === name)!.data as Record<string, string>)[key]!) as Record<string, unknown>;

      // The extender: the shipped config with its own kubeconfig and a static link source.
      const extenderConfig = {
        ...configMap('lpm-extender-config', 'extender.yaml'),
        listen: `127.0.0.1:${ports.extender}`,
        source: { type: 'static', links: [{ source: 'node-a', target: 'node-b', rtt: '1ms' }] },
        kubernetes: { enabled: true, events: true, kubeconfig: kubeconfigs['lpm-extender'] },
        shutdownDelay: '0s',
      };
      const extenderFile = join(dir, 'extender.yaml');
      await writeFile(extenderFile, stringify(extenderConfig));
      startLpm('extender', ['extender', '--config', extenderFile]);

      // The agent: the shipped config (Kubernetes discovery of the agent pods) on loopback.
      const shipped = configMap('lpm-agent-config', 'agent.yaml') as { discovery: { kubernetes: Record<string, unknown> }; measurements: { type: string }[] };
      const agentConfig = {
        ...shipped,
        address: '127.0.0.1',
        listen: `127.0.0.1:${ports.agent}`,
        discovery: { kubernetes: { ...shipped.discovery.kubernetes, kubeconfig: kubeconfigs['lpm-agent'] } },
        iperf3: { ...(shipped as { iperf3?: object }).iperf3, port: ports.iperf3 },
        measurements: [{ type: 'rtt', targets: 'all', interval: '2s', ping: { count: 2, spacing: '200ms' } }],
      };
      const agentFile = join(dir, 'agent.yaml');
      await writeFile(agentFile, stringify(agentConfig));
      startLpm('agent', ['agent', '--config', agentFile], { NODE_NAME: 'node-a', POD_NAMESPACE: NS });

      const extender = `http://127.0.0.1:${ports.extender}`;
      const agent = `http://127.0.0.1:${ports.agent}`;
      for (const [name, url] of [['extender', extender], ['agent', agent]] as const)
        await waitFor(`${name} /readyz 200`, async () => {
          if (procs.find((p) => p.name === name)!.proc.exitCode !== null) throw new Error(`${name} exited:\n${logOf(name)}`);
          return (await httpStatus(`${url}/readyz`)) === 200 ? true : undefined;
        }, 90_000, 300);

      // Watch, agent: an agent pod created now (the DaemonSet's own pod template, admitted by
      // "restricted" for real) on node-b at 127.0.0.2 becomes a target, and is measured.
      const ds = objects.find((o) => o.kind === 'DaemonSet' && o.metadata.name === 'lpm-agent')!;
      const [tpl] = podSpecsOf(ds);
      const body = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'lpm-agent-node-b', labels: tpl!.labels }, spec: { ...tpl!.spec, nodeName: 'node-b' } };
      const agentPod = await core.createNamespacedPod({ namespace: NS, body });
      await core.replaceNamespacedPodStatus({
        name: 'lpm-agent-node-b',
        namespace: NS,
        body: { ...agentPod, status: { phase: 'Running', podIP: '127.0.0.2', podIPs: [{ ip: '127.0.0.2' }] } },
      });
      await waitFor('the agent measuring node-b (discovered by its watch)', async () => {
        const r = (await (await fetch(`${agent}/api/v1/links`)).json()) as { links: { target: string; metrics: { rtt_seconds?: number } }[] };
        return r.links.some((l) => l.target === 'node-b' && l.metrics.rtt_seconds !== undefined) ? true : undefined;
      }, 60_000, 500);

      // Watch, extender: a pod created now, in another namespace, whose lpm.l2sm.io/peers is over
      // the cap of selector alternatives. Once the extender's pod cache has it (same uid), a
      // prioritize call for it records a Warning Event on it, with the extender's own token.
      const peers = Array.from({ length: 40 }, (_, i) => `app=a${i}`).join('; ');
      const capped = await core.createNamespacedPod({
        namespace: 'default',
        body: {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: 'capped', labels: { app: 'capped' }, annotations: { [PEERS_ANNOTATION]: peers } },
          spec: { schedulerName: 'lpm-scheduler', containers: [{ name: 'c', image: 'registry.k8s.io/pause:3.9' }] },
        },
      });
      const args = { Pod: { metadata: capped.metadata, spec: { schedulerName: 'lpm-scheduler' } }, NodeNames: ['node-a', 'node-b'] };
      const event = await waitFor('a Kubernetes Event from the extender on the capped pod', async () => {
        const r = await fetch(`${extender}/prioritize`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(args) });
        expect(r.status).toBe(200);
        const events = await core.listNamespacedEvent({ namespace: 'default', fieldSelector: `involvedObject.uid=${capped.metadata!.uid}` });
        return events.items.find((e: CoreV1Event) => e.reason === EVENT_REASON);
      }, 60_000, 500);
      expect(event).toMatchObject({ type: 'Warning', source: { component: 'lpm-extender' }, involvedObject: { kind: 'Pod', name: 'capped', namespace: 'default' } });
      const metrics = await (await fetch(`${extender}/metrics`)).text();
      expect(metrics).toMatch(/^lpm_extender_pod_events_total\{result="created"\} [1-9]/m);
      expect(metrics).not.toMatch(/^lpm_extender_pod_events_total\{result="error"\} [1-9]/m);

      for (const name of ['extender', 'agent']) {
        const log = logOf(name);
        expect(log, name).toMatch(/pod list loaded/);
        expect(log, name).not.toMatch(/\b403\b|forbidden/i);
        expect(log, name).not.toMatch(/pod watch failed/);
      }
      for (const p of procs) p.proc.kill('SIGTERM');
      for (const p of procs) expect((await p.proc).exitCode, `${p.name} exit:\n${p.log()}`).toBe(0);
    });
  });
});

// ---------------------------------------------------------------------------------------------
// Part 2: ping without any privilege, as the agent pod runs it
// ---------------------------------------------------------------------------------------------

const missingPing = await missingCapabilities([netns(), built(), kubectlBinary(), setpriv(), setcap(), ping(), iperf3()]);
const PING_NS = 'lpmpsa';

let pingDir = '';
const agents: ResultPromise[] = [];

describeWithCapabilities('ping without any privilege (unprivileged ICMP sockets), as the agent pod runs it', missingPing, () => {
  let asPod: string[] = [];
  let agentConfig: Record<string, unknown> = {};

  beforeAll(async () => {
    await deleteNetns(PING_NS);
    pingDir = await mkdtemp(join(tmpdir(), 'lpm-ping-'));
    await chmod(pingDir, 0o755);
    const objects = parseYamlObjects(await kustomizeText(join(M, INSTALL), kubectlPath()), INSTALL);
    const ds = objects.find((o) => o.kind === 'DaemonSet' && o.metadata.name === 'lpm-agent')!;
    const [pod] = podSpecsOf(ds);
    const podSc = pod!.spec.securityContext as { runAsUser: number; runAsGroup: number; sysctls: { name: string; value: string }[] };
    const c = pod!.spec.containers[0]!.securityContext as { allowPrivilegeEscalation: boolean; capabilities: { drop: string[]; add?: string[] } };
    // what the pod gives the agent: its uid and gid, no capability at all, no_new_privs
    expect(c.capabilities).toEqual({ drop: ['ALL'] });
    expect(c.allowPrivilegeEscalation).toBe(false);
    asPod = ['setpriv', `--reuid=${podSc.runAsUser}`, `--regid=${podSc.runAsGroup}`, '--clear-groups', '--inh-caps=-all', '--bounding-set=-all', '--no-new-privs'];
    agentConfig = parseYaml((objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'lpm-agent-config')!.data as Record<string, string>)['agent.yaml']!) as Record<string, unknown>;

    // The pod's network namespace: loopback up, and the DaemonSet's sysctl.
    await addNetns(PING_NS);
    const sysctl = podSc.sysctls.find((s) => s.name === 'net.ipv4.ping_group_range')!;
    await execa(...inNetns(PING_NS, ['sysctl', '-q', '-w', `${sysctl.name}=${sysctl.value}`]));
    // ping as the image has it (Dockerfile: no file capability, no setuid): a plain copy (copies
    // carry no file capability); and as Debian installs it (cap_net_raw+ep), for the contrast.
    await copyFile('/usr/bin/ping', join(pingDir, 'ping'));
    await chmod(join(pingDir, 'ping'), 0o755);
    await copyFile('/usr/bin/ping', join(pingDir, 'ping-debian'));
    await chmod(join(pingDir, 'ping-debian'), 0o755);
    await execa('setcap', ['cap_net_raw+ep', join(pingDir, 'ping-debian')]);
  }, 120_000);

  afterAll(async () => {
    for (const a of agents) if (a.exitCode === null) a.kill('SIGKILL');
    await Promise.allSettled(agents);
    await deleteNetns(PING_NS).catch(() => undefined);
    if (pingDir) await rm(pingDir, { recursive: true, force: true });
  });

  it('the Dockerfile strips ping of its file capability and setuid bit, and checks both are gone', async () => {
    const dockerfile = await readFile(join(ROOT, 'Dockerfile'), 'utf8');
    const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    expect(runtime).toMatch(/setcap -r \/usr\/bin\/ping/);
    expect(runtime).toMatch(/chmod u-s \/usr\/bin\/ping/);
    expect(runtime).toMatch(/test -z "\$\(getcap \/usr\/bin\/ping\)"/);
    expect(runtime).not.toMatch(/setcap cap_net_raw/);
    expect((await execa('getcap', [join(pingDir, 'ping')])).stdout.trim()).toBe('');
  });

  it("the agent's ping command lines work with no capability: plain, with -I address and with -I interface", async () => {
    for (const extra of [{}, { source: '127.0.0.1' }, { interface: 'lo' }]) {
      const args = pingArgs({ target: '127.0.0.1', count: 3, spacing: 0.2, timeout: 1, size: 56, ...extra });
      const r = await execa(...inNetns(PING_NS, [...asPod, join(pingDir, 'ping'), ...args]), { reject: false, env: { LC_ALL: 'C' } });
      const out = parsePingOutput({ stdout: String(r.stdout), stderr: String(r.stderr), exitCode: r.exitCode });
      expect(out, `ping ${args.join(' ')}: ${String(r.stderr)}`).toMatchObject({ kind: 'stats', transmitted: 3, received: 3, loss: 0 });
    }
    // the agent's start-up probe (agent/tools/toolCheck.ts)
    const probe = await execa(...inNetns(PING_NS, [...asPod, join(pingDir, 'ping'), '-n', '-c', '1', '-W', '1', '127.0.0.1']), { reject: false });
    expect(probe.exitCode, String(probe.stderr)).toBe(0);
  });

  it('without the sysctl the same ping is refused; with Debian\'s cap_net_raw+ep it cannot even be executed', async () => {
    const run = (bin: string) => execa(...inNetns(PING_NS, [...asPod, bin, '-n', '-c', '1', '-W', '1', '127.0.0.1']), { reject: false, all: true });
    const debian = await run(join(pingDir, 'ping-debian'));
    expect(debian.exitCode).not.toBe(0);
    expect(String(debian.all)).toMatch(/failed to execute .*ping-debian: Operation not permitted/);
    const [name, value] = ['net.ipv4.ping_group_range', (await execa(...inNetns(PING_NS, ['sysctl', '-n', 'net.ipv4.ping_group_range']))).stdout.trim()];
    await execa(...inNetns(PING_NS, ['sysctl', '-q', '-w', `${name}=1 0`]));
    try {
      const closed = await run(join(pingDir, 'ping'));
      expect(closed.exitCode).not.toBe(0);
      expect(String(closed.all)).toMatch(/socket: Operation not permitted/);
    } finally {
      await execa(...inNetns(PING_NS, ['sysctl', '-q', '-w', `${name}=${value.replace(/\s+/g, ' ')}`]));
    }
  });

  it('`lpm agent` with the shipped ping settings measures RTT as the pod user, without any capability', async () => {
    const { discovery: _discovery, ...rest } = agentConfig as { discovery?: unknown; measurements: { type: string; interval?: string }[] };
    const file = join(pingDir, 'agent.yaml');
    const cfg = {
      ...rest,
      node: 'node-a',
      address: '127.0.0.1',
      listen: '127.0.0.1:9105',
      targets: [{ name: 'node-b', address: '127.0.0.2' }],
      // the shipped RTT measurement (count, spacing), run every 2 s instead of every 10 s
      measurements: rest.measurements.filter((m) => m.type === 'rtt').map((m) => ({ ...m, interval: '2s' })),
    };
    await writeFile(file, stringify(cfg), { mode: 0o644 });
    const agent = execa(...inNetns(PING_NS, [...asPod, process.execPath, BIN, 'agent', '--config', file, '--log-level', 'debug']), {
      reject: false,
      stdin: 'ignore',
      all: true,
      buffer: false,
      env: { PATH: `${pingDir}:/usr/bin:/bin`, LC_ALL: 'C' },
    });
    agents.push(agent);
    let out = '';
    agent.all?.on('data', (c: Buffer) => void (out += c.toString('utf8')));
    await waitFor('an RTT measured by the unprivileged agent', async () => {
      if (agent.exitCode !== null) throw new Error(`the agent exited:\n${out}`);
      return /"type":"rtt","result":"success"/.test(out) ? true : undefined;
    }, 60_000, 300);
    expect(out).toMatch(/"tools found"/);
    expect(out).not.toMatch(/not permitted/);
    agent.kill('SIGTERM');
    expect((await agent).exitCode, out).toBe(0);
  });
});
