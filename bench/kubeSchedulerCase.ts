// The real thing: what the extender costs kube-scheduler, measured with kube-scheduler itself.
// On loopback, one run: etcd and kube-apiserver (the lab's control-plane starter,
// scenarios/lab/kube/controlPlane.ts), `nodes` Ready Nodes (bench/cluster.ts's Node objects) with
// `podsPerNode` pods bound to each, `peers` pods `app=db` in namespace `apps` bound to as many
// nodes, and the real `lpm extender` (Kubernetes mode: its pod cache follows the API; its
// `prometheus` source reads, once, a link matrix from the peers' nodes to every node, both
// directions, from a stand-in Prometheus). Then three scheduling runs of
// `pending` pods `app=web` with `lpm.l2sm.io/peers: apps:app=db` and no limits, one kube-scheduler
// process each, the same configuration (percentageOfNodesToScore 100, client qps 5000) but for the
// shipped extender block (manifests/base/lpm-scheduler-config.yaml, URL replaced):
//   without: a profile `bench-plain`, no extender;
//   no-op:   the same extender block pointed at the bench's no-op extender (baseline.ts, its own
//            process: parses the body, answers every node, Score 0): what any extender costs;
//   with:    the shipped `lpm-scheduler` profile and its extender block (nodeCacheCapable, weight 5).
// The pods of a run are created first (pending, for a scheduler not yet running); a watch on them
// notes when each is bound; pods/s is 80 % of them over the time from the 10 % to the 90 % bound
// (the scheduler's start-up and the tail left out). The extender runs through both runs (as it
// would in a cluster): only the scheduler's configuration differs. Its milliseconds per pod come
// from its own lpm_extender_request_duration_seconds histogram (sum over the run / pods bound).
// Every process is stopped and the directory removed afterwards, also on failure.
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { stringify } from 'yaml';
import { findKubeBinaries, KUBE_BIN_ENV, type KubeBinaries } from '../scenarios/lab/kube/binaries.js';
import { newToken, startApiserver, startEtcd } from '../scenarios/lab/kube/controlPlane.js';
import { probe, tlsAgent, waitHttpReady } from '../scenarios/lab/kube/http.js';
import { writeKubeconfig } from '../scenarios/lab/kube/kubeconfig.js';
import { base64File, makePki } from '../scenarios/lab/kube/pki.js';
import { lpmSchedulerConfig, schedulerArgs, shippedSchedulerConfigText } from '../scenarios/lab/kube/schedulers.js';
import { lpmBin } from '../scenarios/lab/paths.js';
import { spawnDetached, stopProcess } from '../scenarios/lab/processes.js';
import { freeLoopbackPort } from '../scenarios/lab/prometheus.js';
import type { ProcessRecord } from '../scenarios/lab/state.js';
import { nodeName, nodeObject, prng } from './cluster.js';
import { startServers, type ServerHandle } from './httpCases.js';
import { serveAnswers } from './matrixScaleCase.js';

export interface KubeSchedulerCaseOptions {
  /** Repository root (for ../shared/k8s/bin in development). */
  root: string;
  nodes: number;
  podsPerNode: number;
  /** Peer pods (app=db), each on its own node. */
  peers: number;
  /** Pods scheduled per run. */
  pending: number;
  /** API requests in flight while creating nodes and pods. */
  inFlight: number;
  /** Per scheduling run. */
  timeoutSeconds: number;
  log?: (line: string) => void;
}

export interface SchedulingRun {
  scheduler: string;
  pods: number;
  bound: number;
  /** Seconds from the scheduler's start to the 10 % and the 90 % bound. */
  t10: number;
  t90: number;
  /** 80 % of the pods / (t90 - t10). */
  podsPerSecond: number;
  /** Pods bound to one of the best-linked nodes (the peers' nodes and the near ones). */
  onBestNodes: number;
  /**
   * kube-scheduler's own view, from its /metrics, mean per attempt: the scheduling algorithm
   * (filter and score, extender calls included) and the whole scheduling cycle.
   */
  algorithmMs?: number;
  attemptMs?: number;
}

export interface ExtenderCost {
  filterCalls: number;
  prioritizeCalls: number;
  /** Mean per call, from the extender's request-duration histogram. */
  filterMs: number;
  prioritizeMs: number;
  /** (filter + prioritize time) / pods bound. */
  msPerPod: number;
  /** prioritize calls that reused filter's prepared state / computed their own. */
  reused: number;
  computed: number;
  /** The extender process after the runs: resident and peak resident memory. */
  rssMiB: number;
  peakRssMiB: number;
}

export interface KubeSchedulerCaseResult {
  nodes: number;
  podsPerNode: number;
  peers: number;
  pending: number;
  /** Why it did not run (no kube binaries), when it did not. */
  skipped?: string;
  kubeVersion?: string;
  /** Pods stored in the API before the runs (bound background pods and peers). */
  storedPods?: number;
  /** Directed links in the extender's matrix. */
  links?: number;
  /** Nodes counted as best-linked (peers' nodes and the near ones). */
  bestNodes?: number;
  setupSeconds?: { controlPlane: number; objects: number; extender: number };
  without?: SchedulingRun;
  /** The same extender block pointed at the bench's no-op extender (baseline.ts): what any extender costs. */
  noop?: SchedulingRun;
  with?: SchedulingRun;
  /** pods/s with / pods/s without. */
  ratio?: number;
  /** pods/s with the no-op extender / pods/s without. */
  noopRatio?: number;
  extender?: ExtenderCost;
}

/** kube-apiserver and kube-scheduler: $LPM_KUBE_BIN, else ../shared/k8s/bin next to the repository (development, CI); etcd from PATH or /usr/bin. */
export async function benchKubeBinaries(root: string): Promise<KubeBinaries | { skipped: string }> {
  const dev = join(root, '..', 'shared', 'k8s', 'bin');
  const dir = process.env[KUBE_BIN_ENV] || (existsSync(join(dev, 'kube-apiserver')) ? dev : undefined);
  if (!dir) return { skipped: `no kube-apiserver/kube-scheduler: set ${KUBE_BIN_ENV} to their folder` };
  try {
    return await findKubeBinaries(dir);
  } catch (err) {
    return { skipped: (err as Error).message };
  }
}

/** A tiny client of the bench cluster's API (admin client certificate), with retries on throttling. */
class Api {
  constructor(
    readonly server: string,
    readonly agent: Agent,
  ) {}

  async call(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
    for (let attempt = 0; ; attempt++) {
      try {
        const res = await request(`${this.server}${path}`, {
          method,
          dispatcher: this.agent,
          ...(body !== undefined ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}),
        });
        const text = await res.body.text();
        if ((res.statusCode === 429 || res.statusCode >= 500) && attempt < 20) {
          await sleep(50 * (attempt + 1));
          continue;
        }
        return { status: res.statusCode, json: text ? (JSON.parse(text) as unknown) : undefined };
      } catch (err) {
        if (attempt >= 20) throw err;
        await sleep(50 * (attempt + 1));
      }
    }
  }

  async create(path: string, body: unknown): Promise<void> {
    const r = await this.call('POST', path, body);
    if (r.status !== 201 && r.status !== 409) throw new Error(`POST ${path}: HTTP ${r.status} ${JSON.stringify(r.json).slice(0, 300)}`);
  }
}

async function inParallel<T>(items: readonly T[], limit: number, fn: (x: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

const BG_NAMESPACES = 50;
const PEER_NAMESPACE = 'apps';
const PEERS_ANNOTATION_VALUE = `${PEER_NAMESPACE}:app=db`;
/** Share of nodes with a near link to every peer node (the rest are far): the best-linked nodes. */
const NEAR_SHARE = 0.01;

function podObject(o: {
  name: string;
  namespace: string;
  labels: Record<string, string>;
  annotations?: Record<string, string>;
  nodeName?: string;
  schedulerName?: string;
}): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: o.name, namespace: o.namespace, labels: o.labels, ...(o.annotations ? { annotations: o.annotations } : {}) },
    spec: {
      ...(o.nodeName ? { nodeName: o.nodeName } : {}),
      ...(o.schedulerName ? { schedulerName: o.schedulerName } : {}),
      terminationGracePeriodSeconds: 0,
      containers: [{ name: 'app', image: 'registry.k8s.io/pause:3.9', resources: { requests: { cpu: '10m', memory: '16Mi' } } }],
    },
  };
}

/** A Node as bench/cluster.ts makes it, ready to create (no server-set metadata), with room for the pods. */
function createNodeBody(i: number): Record<string, unknown> {
  const n = nodeObject(i) as { metadata: Record<string, unknown>; status: Record<string, Record<string, string>> };
  const { name, labels, annotations } = n.metadata as { name: string; labels: unknown; annotations: unknown };
  const room = { cpu: '64', memory: '256Gi', pods: '250', 'ephemeral-storage': '100Gi' };
  return { apiVersion: 'v1', kind: 'Node', ...n, metadata: { name, labels, annotations }, status: { ...n.status, capacity: room, allocatable: room } };
}

/** The peers' nodes, spread evenly. */
const peerNodes = (nodes: number, peers: number) => Array.from({ length: peers }, (_, k) => nodeName(Math.floor((k * nodes) / peers)));

/**
 * The link matrix: every peer node to and from every node, RTT and bandwidth, as the answers of
 * the `prometheus` source's queries (a stand-in Prometheus serves them). A share of the nodes
 * (NEAR_SHARE) is near every peer node (0.2-0.5 ms, 1-2 Gbit/s), the rest far (2-20 ms,
 * 50-500 Mbit/s). Seeded; measured `at` (unix seconds).
 */
function linkAnswers(nodes: number, peers: readonly string[], at: number): { bodies: Map<string, Buffer>; links: number; near: Set<string> } {
  const rand = prng(nodes + 17);
  const near = new Set<string>();
  const rtt: string[] = [];
  const bw: string[] = [];
  const times: string[] = [];
  const sample = (source: string, target: string, extra: string, value: number | string) =>
    `{"metric":{"source_node":"${source}","target_node":"${target}","network":"lpm-measurement"${extra}},"value":[${at},"${value}"]}`;
  for (let i = 0; i < nodes; i++) {
    const n = nodeName(i);
    const isNear = rand() < NEAR_SHARE;
    if (isNear) near.add(n);
    for (const p of peers) {
      if (p === n) continue;
      for (const [source, target] of [
        [p, n],
        [n, p],
      ] as const) {
        rtt.push(sample(source, target, '', isNear ? 0.0002 + rand() * 0.0003 : 0.002 + rand() * 0.018));
        bw.push(sample(source, target, '', isNear ? 125e6 + rand() * 125e6 : 6.25e6 + rand() * 56e6));
        times.push(sample(source, target, ',"metric":"rtt"', at), sample(source, target, ',"metric":"bandwidth"', at));
      }
    }
  }
  const answer = (result: string[]) => Buffer.from(`{"status":"success","data":{"resultType":"vector","result":[${result.join(',')}]}}`);
  const bodies = new Map<string, Buffer>([
    ['rtt_seconds', answer(rtt)],
    ['bandwidth_bytes_per_second', answer(bw)],
    ['timestamp', answer(times)],
  ]);
  for (const key of ['rtt_min_seconds', 'rtt_max_seconds', 'jitter_seconds', 'packet_loss_ratio']) bodies.set(key, answer([]));
  return { bodies, links: rtt.length, near };
}

/** Watches pods with `selector` in the peer namespace and notes when each is first seen bound. */
function watchBindings(api: Api, selector: string): { bound: Map<string, { node: string; at: number }>; stop: () => void; ready: Promise<void> } {
  const bound = new Map<string, { node: string; at: number }>();
  const abort = new AbortController();
  let markReady: () => void = () => undefined;
  const ready = new Promise<void>((r) => (markReady = r));
  const run = async () => {
    while (!abort.signal.aborted) {
      try {
        const res = await request(`${api.server}/api/v1/namespaces/${PEER_NAMESPACE}/pods?watch=true&labelSelector=${encodeURIComponent(selector)}&timeoutSeconds=3600`, {
          dispatcher: api.agent,
          signal: abort.signal,
        });
        markReady();
        let buf = '';
        for await (const chunk of res.body) {
          buf += (chunk as Buffer).toString('utf8');
          let nl: number;
          while ((nl = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, nl);
            buf = buf.slice(nl + 1);
            if (!line.trim()) continue;
            const ev = JSON.parse(line) as { type: string; object: { metadata?: { name?: string }; spec?: { nodeName?: string } } };
            const name = ev.object.metadata?.name;
            const node = ev.object.spec?.nodeName;
            if (name && node && !bound.has(name)) bound.set(name, { node, at: performance.now() });
          }
        }
      } catch {
        if (abort.signal.aborted) return;
        await sleep(100);
      }
    }
  };
  void run();
  return { bound, stop: () => abort.abort(), ready };
}

/** Sums of the extender's counters and histograms that the runs move, from its /metrics. */
async function extenderCounters(url: string): Promise<Record<string, number>> {
  const r = await probe(`${url}/metrics`, undefined, 10_000);
  if (!('status' in r) || r.status !== 200) throw new Error(`extender /metrics: ${'error' in r ? r.error : `HTTP ${r.status}`}`);
  const out: Record<string, number> = {};
  for (const line of r.body.split('\n')) {
    const m = /^(lpm_extender_request_duration_seconds_(?:sum|count)\{verb="(?:filter|prioritize)"\}|lpm_extender_prepared_states_total\{result="(?:reused|computed)"\}) (\S+)$/.exec(line);
    if (m) out[m[1]!] = Number(m[2]);
  }
  return out;
}

/** Mean milliseconds of kube-scheduler's scheduling algorithm and scheduling attempts (scheduled), from its /metrics. */
async function schedulerMeans(port: number, agent: Agent): Promise<{ algorithmMs?: number; attemptMs?: number }> {
  try {
    const res = await request(`https://127.0.0.1:${port}/metrics`, { dispatcher: agent, signal: AbortSignal.timeout(10_000) });
    const text = await res.body.text();
    if (res.statusCode !== 200) return {};
    const sum = (re: RegExp) => {
      let t = 0;
      for (const line of text.split('\n')) {
        const m = re.exec(line);
        if (m) t += Number(m[1]);
      }
      return t;
    };
    const mean = (name: string, labels = '') => {
      const n = sum(new RegExp(`^${name}_count\\{?[^}]*${labels}[^}]*\\}? (\\S+)$`));
      return n > 0 ? (1000 * sum(new RegExp(`^${name}_sum\\{?[^}]*${labels}[^}]*\\}? (\\S+)$`))) / n : undefined;
    };
    const algorithmMs = mean('scheduler_scheduling_algorithm_duration_seconds');
    const attemptMs = mean('scheduler_scheduling_attempt_duration_seconds', 'result="scheduled"');
    return { ...(algorithmMs !== undefined ? { algorithmMs } : {}), ...(attemptMs !== undefined ? { attemptMs } : {}) };
  } catch {
    return {};
  }
}

async function memoryMiB(pid: number): Promise<{ rss: number; peak: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rss: Math.round(kib('VmRSS') / 1024), peak: Math.round(kib('VmHWM') / 1024) };
}

export async function runKubeSchedulerCase(o: KubeSchedulerCaseOptions): Promise<KubeSchedulerCaseResult> {
  const log = o.log ?? (() => undefined);
  const base: KubeSchedulerCaseResult = { nodes: o.nodes, podsPerNode: o.podsPerNode, peers: o.peers, pending: o.pending };
  const bins = await benchKubeBinaries(o.root);
  if ('skipped' in bins) return { ...base, skipped: bins.skipped };

  // etcd on tmpfs when there is one: the bench measures kube-scheduler, not the disk
  const parent = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
  const dir = await mkdtemp(join(parent, 'lpm-bench-kube-'));
  const procs: ProcessRecord[] = [];
  let agent: Agent | undefined;
  let schedAgent: Agent | undefined;
  let prometheus: { server: Server; url: string } | undefined;
  let noopServer: ServerHandle | undefined;
  try {
    const t0 = performance.now();
    const [etcdClient, etcdPeer, apiPort, extPort, schedPort] = (await distinctPorts(5)) as [number, number, number, number, number];
    const pki = await makePki(join(dir, 'pki'));
    // recorded as soon as spawned, so a failed start is stopped too
    await startEtcd({ lab: 'bench', dir, bin: bins.etcd, clientPort: etcdClient, peerPort: etcdPeer }, async (p) => void procs.push(p));
    const api0 = await startApiserver(
      { dir, bin: bins, pki, etcdPort: etcdClient, port: apiPort, tokenFile: join(dir, 'tokens.csv') },
      [{ token: newToken(), user: 'bench-unused', uid: 'bench-unused', groups: [] }],
      async (p) => void procs.push(p),
    );
    agent = api0.agent;
    const server = `https://127.0.0.1:${apiPort}`;
    const api = new Api(server, agent);
    const kubeconfig = join(dir, 'admin.kubeconfig');
    await writeKubeconfig(kubeconfig, {
      name: 'lpm-bench',
      server,
      caData: await base64File(pki.caCert),
      userName: 'lpm-bench-admin',
      user: { clientCertificateData: await base64File(pki.adminCert), clientKeyData: await base64File(pki.adminKey) },
    });
    // kube-scheduler's /metrics: its own serving certificate, our admin client certificate
    schedAgent = await tlsAgent({ cert: pki.adminCert, key: pki.adminKey, insecure: true });
    const controlPlane = (performance.now() - t0) / 1000;
    log(`  control plane up in ${controlPlane.toFixed(1)} s (${bins.version}, etcd ${bins.etcdVersion})`);

    // the cluster: namespaces, nodes, background pods, peers
    const t1 = performance.now();
    const namespaces = [PEER_NAMESPACE, ...Array.from({ length: BG_NAMESPACES }, (_, k) => `bg-${k}`)];
    await inParallel(namespaces, o.inFlight, (name) => api.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } }));
    await inParallel(
      Array.from({ length: o.nodes }, (_, i) => i),
      o.inFlight,
      (i) => api.create('/api/v1/nodes', createNodeBody(i)),
    );
    log(`  ${o.nodes} nodes in ${((performance.now() - t1) / 1000).toFixed(1)} s`);
    const total = o.nodes * o.podsPerNode;
    let made = 0;
    let lastLog = performance.now();
    await inParallel(
      Array.from({ length: total }, (_, i) => i),
      o.inFlight,
      async (i) => {
        const app = Math.floor(i / 10);
        const namespace = `bg-${app % BG_NAMESPACES}`;
        await api.create(
          `/api/v1/namespaces/${namespace}/pods`,
          podObject({ name: `bg-${i}`, namespace, labels: { app: `bg-${app}` }, nodeName: nodeName(i % o.nodes) }),
        );
        if (++made % 10_000 === 0 && performance.now() - lastLog > 5000) {
          lastLog = performance.now();
          log(`    ${made} of ${total} pods`);
        }
      },
    );
    const peers = peerNodes(o.nodes, o.peers);
    await inParallel(
      peers.map((node, k) => ({ node, k })),
      o.inFlight,
      ({ node, k }) => api.create(`/api/v1/namespaces/${PEER_NAMESPACE}/pods`, podObject({ name: `db-${k}`, namespace: PEER_NAMESPACE, labels: { app: 'db' }, nodeName: node })),
    );
    const objects = (performance.now() - t1) / 1000;
    log(`  ${total + o.peers} bound pods in ${objects.toFixed(1)} s`);

    // the extender, in Kubernetes mode, reading the matrix from a stand-in Prometheus
    const t2 = performance.now();
    const matrix = linkAnswers(o.nodes, peers, Date.now() / 1000);
    const best = new Set([...matrix.near, ...peers]);
    prometheus = await serveAnswers(matrix.bodies);
    const promUrl = prometheus.url;
    const extConfig = join(dir, 'extender.yaml');
    await writeFile(
      extConfig,
      stringify({
        listen: `127.0.0.1:${extPort}`,
        // read once: the matrix does not change during the runs (a refresh of 100 000 links is
        // not what is measured); its values (measured when built) never turn stale meanwhile
        source: { type: 'prometheus', url: promUrl, interval: '1h', timeout: '5m' },
        staleness: { rttMaxAge: '24h', bandwidthMaxAge: '24h' },
        kubernetes: { enabled: true, kubeconfig },
      }),
    );
    const extLog = join(dir, 'extender.log');
    const extPid = spawnDetached(process.execPath, [lpmBin(), 'extender', '--config', extConfig, '--log-level', 'warn'], extLog);
    const ext: ProcessRecord = { pid: extPid, marker: `--config ${extConfig}`, log: extLog };
    procs.push(ext);
    const extUrl = `http://127.0.0.1:${extPort}`;
    await waitExtender(extUrl, ext);
    const extenderSetup = (performance.now() - t2) / 1000;
    log(`  extender ready in ${extenderSetup.toFixed(1)} s (${matrix.links} links)`);

    // the two configurations: the shipped one (extender URL replaced), and the same without the extender
    const shipped = lpmSchedulerConfig(await shippedSchedulerConfigText(), { extenderUrl: extUrl, kubeconfig });
    const common = {
      clientConnection: { ...(shipped.clientConnection as object), kubeconfig, qps: 5000, burst: 5000 },
      leaderElection: { leaderElect: false },
    };
    const withExtender = { ...shipped, ...common };
    const plain = {
      ...withExtender,
      extenders: undefined,
      profiles: (shipped.profiles ?? []).map((p) => ({ ...p, schedulerName: 'bench-plain' })),
    };
    delete plain.extenders;
    const lpmName = (shipped.profiles ?? []).map((p) => p.schedulerName).find(Boolean) ?? 'lpm-scheduler';
    // the bench's no-op extender (it parses the body and answers every node, Score 0) in a process of its own
    noopServer = await startServers({ nodes: 1, podsPerNode: 0, peerCounts: [] });
    const noopUrl = noopServer.ready.baseline;
    const noop = {
      ...withExtender,
      extenders: (withExtender.extenders ?? []).map((e) => ({ ...e, urlPrefix: noopUrl })),
      profiles: (shipped.profiles ?? []).map((p) => ({ ...p, schedulerName: 'bench-noop' })),
    };

    const run = async (set: string, schedulerName: string, config: Record<string, unknown>): Promise<SchedulingRun> => {
      await inParallel(
        Array.from({ length: o.pending }, (_, i) => i),
        o.inFlight,
        (i) =>
          api.create(
            `/api/v1/namespaces/${PEER_NAMESPACE}/pods`,
            podObject({
              name: `web-${set}-${i}`,
              namespace: PEER_NAMESPACE,
              labels: { app: 'web', 'bench-set': set },
              annotations: { 'lpm.l2sm.io/peers': PEERS_ANNOTATION_VALUE },
              schedulerName,
            }),
          ),
      );
      const watch = watchBindings(api, `bench-set=${set}`);
      await watch.ready;
      const configFile = join(dir, `${set}.scheduler.yaml`);
      await writeFile(configFile, stringify(config));
      const schedLog = join(dir, `${set}.scheduler.log`);
      const started = performance.now();
      const sched: ProcessRecord = {
        pid: spawnDetached(bins.scheduler, schedulerArgs(configFile, schedPort, kubeconfig), schedLog),
        marker: `--config=${configFile}`,
        log: schedLog,
      };
      procs.push(sched);
      let means: { algorithmMs?: number; attemptMs?: number } = {};
      try {
        const until = started + o.timeoutSeconds * 1000;
        while (watch.bound.size < o.pending && performance.now() < until) await sleep(100);
        if (schedAgent) means = await schedulerMeans(schedPort, schedAgent);
      } finally {
        watch.stop();
        await stopProcess(sched);
      }
      const times = [...watch.bound.values()].map((b) => (b.at - started) / 1000).sort((a, b) => a - b);
      if (times.length < o.pending)
        throw new Error(`${schedulerName}: ${times.length} of ${o.pending} pods bound in ${o.timeoutSeconds} s; see ${schedLog}`);
      const at = (q: number) => times[Math.max(0, Math.ceil(q * o.pending) - 1)]!;
      const t10 = at(0.1);
      const t90 = at(0.9);
      const onBest = [...watch.bound.values()].filter((b) => best.has(b.node)).length;
      return {
        scheduler: schedulerName,
        pods: o.pending,
        bound: times.length,
        t10,
        t90,
        podsPerSecond: (0.8 * o.pending) / Math.max(1e-6, t90 - t10),
        onBestNodes: onBest,
        ...means,
      };
    };

    log(`  scheduling ${o.pending} pods without the extender`);
    const without = await run('plain', 'bench-plain', plain);
    log(`    ${without.podsPerSecond.toFixed(1)} pods/s (10-90 % bound in ${(without.t90 - without.t10).toFixed(1)} s)`);
    log(`  scheduling ${o.pending} pods with a no-op extender`);
    const noopRun = await run('noop', 'bench-noop', noop);
    log(`    ${noopRun.podsPerSecond.toFixed(1)} pods/s (10-90 % bound in ${(noopRun.t90 - noopRun.t10).toFixed(1)} s)`);
    const before = await extenderCounters(extUrl);
    log(`  scheduling ${o.pending} pods with the extender`);
    const withRun = await run('lpm', lpmName, withExtender);
    const after = await extenderCounters(extUrl);
    log(`    ${withRun.podsPerSecond.toFixed(1)} pods/s (10-90 % bound in ${(withRun.t90 - withRun.t10).toFixed(1)} s)`);
    const d = (k: string) => (after[k] ?? 0) - (before[k] ?? 0);
    const sumF = d('lpm_extender_request_duration_seconds_sum{verb="filter"}');
    const sumP = d('lpm_extender_request_duration_seconds_sum{verb="prioritize"}');
    const nF = d('lpm_extender_request_duration_seconds_count{verb="filter"}');
    const nP = d('lpm_extender_request_duration_seconds_count{verb="prioritize"}');
    const mem = await memoryMiB(ext.pid);
    return {
      ...base,
      kubeVersion: bins.version,
      storedPods: total + o.peers,
      links: matrix.links,
      bestNodes: best.size,
      setupSeconds: { controlPlane, objects, extender: extenderSetup },
      without,
      noop: noopRun,
      with: withRun,
      ratio: withRun.podsPerSecond / without.podsPerSecond,
      noopRatio: noopRun.podsPerSecond / without.podsPerSecond,
      extender: {
        filterCalls: nF,
        prioritizeCalls: nP,
        filterMs: nF ? (1000 * sumF) / nF : 0,
        prioritizeMs: nP ? (1000 * sumP) / nP : 0,
        msPerPod: (1000 * (sumF + sumP)) / withRun.bound,
        reused: d('lpm_extender_prepared_states_total{result="reused"}'),
        computed: d('lpm_extender_prepared_states_total{result="computed"}'),
        rssMiB: mem.rss,
        peakRssMiB: mem.peak,
      },
    };
  } finally {
    for (const p of procs.reverse()) await stopProcess(p).catch(() => undefined);
    await agent?.close().catch(() => undefined);
    await schedAgent?.close().catch(() => undefined);
    await noopServer?.stop().catch(() => undefined);
    if (prometheus) {
      const { server } = prometheus;
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  }
}

/** Until /readyz says ready (the pod cache's first list of every pod can take minutes); fails at once when the matrix cannot be read. */
async function waitExtender(url: string, proc: ProcessRecord): Promise<void> {
  const until = Date.now() + 20 * 60_000;
  await waitHttpReady('lpm extender', `${url}/healthz`, proc, { timeoutMs: 60_000 });
  let last = '';
  while (Date.now() < until) {
    const r = await probe(`${url}/readyz`, undefined, 10_000);
    if ('status' in r && r.status === 200) return;
    last = 'status' in r ? r.body : r.error;
    if (/link matrix \((?!first refresh pending)/.test(last)) throw new Error(`lpm extender: no link matrix: ${last}; see ${proc.log}`);
    await sleep(500);
  }
  throw new Error(`lpm extender not ready after 20 min: ${last}; see ${proc.log}`);
}

async function distinctPorts(n: number): Promise<number[]> {
  const out = new Set<number>();
  while (out.size < n) out.add(await freeLoopbackPort(0));
  return [...out];
}
