// The agent: wires config, peers, schedulers, runners, results, metrics and HTTP together.
// Everything it decides is in src/ (schedule, parsing, record rules); this file only moves data.
import type { Iperf3Job, PlannedTest } from './bandwidth/timetable.js';
import type { AgentConfig, MeasurementConfig } from './config.js';
import { ConfigError } from '../src/config/loadYaml.js';
import type { MeasurementResult } from '../src/linkMetrics.js';
import type { Logger } from '../src/log.js';
import { recordFromIperf3, recordFromPing, type MeasurementRecord } from './measurementRecord.js';
import { mergePeers, type PeerEntry } from './targetPods.js';
import { BandwidthWindowTimer } from './bandwidth/windowTimer.js';
import { startHttp, type AgentHttp } from './http.js';
import { Iperf3Server, type Iperf3ServerOptions } from './tools/iperf3Server.js';
import type { PeerSource } from './kubeDiscovery.js';
import { AgentMetrics } from './metrics.js';
import { ResultStore } from './results.js';
import { RttProbeTimers, type RttJob } from './rttProbeTimers.js';
import { runIperf3Client } from './tools/iperf3Client.js';
import { runPing } from './tools/ping.js';

/** This node's name: the config's `node`, else NODE_NAME (set by the DaemonSet's downward API). */
export function resolveNodeName(cfg: AgentConfig, env: NodeJS.ProcessEnv = process.env): string {
  const name = cfg.node ?? env.NODE_NAME;
  if (!name) throw new ConfigError('node: not set: put `node: NAME` in the config or set NODE_NAME', ['node: not set']);
  if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(name))
    throw new ConfigError(`node: "${name}" must be a lowercase DNS name`, [`node: "${name}" invalid`]);
  return name;
}

export class Agent {
  readonly store: ResultStore;
  readonly metrics: AgentMetrics;
  private readonly server: Iperf3Server;
  private readonly rtt: RttProbeTimers;
  private readonly bandwidth: BandwidthWindowTimer;
  private readonly abort = new AbortController();
  private http: AgentHttp | undefined;
  private discovery: PeerSource | undefined;
  private discoveryKey = '';
  private discoveryLoading: Promise<unknown> = Promise.resolve();
  private discovered: PeerEntry[] = [];
  private peers = new Map<string, PeerEntry>();
  private iperf3Metrics: MeasurementConfig[] = [];
  private rttMetrics = new Map<string, MeasurementConfig>();
  private started = false;
  private stopping = false;

  constructor(
    private cfg: AgentConfig,
    readonly node: string,
    private readonly log: Logger,
  ) {
    this.store = new ResultStore(cfg.historySize);
    this.metrics = new AgentMetrics(this.store, () => ({ node: this.node, network: this.cfg.network }));
    this.server = new Iperf3Server(this.serverOptions(cfg), log, {
      onUp: () => this.metrics.iperf3ServerUp.set(1),
      onDown: () => this.metrics.iperf3ServerUp.set(0),
      onRestart: () => this.metrics.iperf3ServerRestarts.inc(),
    });
    this.rtt = new RttProbeTimers(
      (job) => this.runRtt(job),
      Math.random,
      (job) => {
        const now = Date.now() / 1000;
        const until = this.bandwidth.busyUntil(job.target, now, now + job.runSeconds);
        return until === undefined ? undefined : until - now;
      },
    );
    this.bandwidth = new BandwidthWindowTimer((test, attempt) => this.runBandwidth(test, attempt));
  }

  get config(): AgentConfig {
    return this.cfg;
  }

  /** Port the HTTP server is bound to (after start). */
  get httpPort(): number | undefined {
    return this.http?.port;
  }

  peerList(): PeerEntry[] {
    return [...this.peers.values()];
  }

  async start(): Promise<void> {
    this.http = await startHttp(
      this.cfg.listen,
      {
        registry: this.metrics.registry,
        links: () => this.store.report(this.node, this.cfg.network),
        history: () => this.store.history(this.node, this.cfg.network),
        notReady: () => this.notReady(),
      },
      this.log,
    );
    this.server.start();
    this.started = true;
    this.applyDiscovery();
    this.refreshPeers();
    this.log.info({ node: this.node, listen: this.cfg.listen, network: this.cfg.network, peers: this.peerList().map((p) => p.name) }, 'agent started');
  }

  /** Applies a new, valid config without restarting. */
  async apply(next: AgentConfig): Promise<void> {
    const prev = this.cfg;
    const nextNode = next.node ?? process.env.NODE_NAME;
    if (nextNode && nextNode !== this.node)
      this.log.warn({ running: this.node, configured: nextNode }, 'node name changes need a restart; keeping the running name');
    if (next.listen !== prev.listen)
      this.log.warn({ running: prev.listen, configured: next.listen }, 'listen address changes need a restart; keeping the running one');
    next = { ...next, listen: prev.listen };
    if (next.network !== prev.network) {
      // Every series would change its network label: start over rather than mix the two.
      this.store.clear();
      this.metrics.resetLinks();
    }
    this.cfg = next;
    this.store.setHistorySize(next.historySize);
    const so = this.serverOptions(next);
    const old = this.server.options;
    if (so.bind !== old.bind || so.port !== old.port || so.idleTimeout !== old.idleTimeout) await this.server.reconfigure(so);
    this.applyDiscovery();
    this.refreshPeers();
    this.log.info({ peers: this.peerList().map((p) => p.name), metrics: next.metrics.map((m) => m.type) }, 'config applied');
  }

  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.discovery?.stop();
    await this.discoveryLoading;
    this.discovery?.stop(); // in case it was being created just now
    this.abort.abort();
    await Promise.allSettled([this.rtt.stop(), this.bandwidth.stop()]);
    await this.server.stop();
    await this.http?.close();
    this.log.info('agent stopped');
  }

  private notReady(): string[] {
    const reasons: string[] = [];
    if (!this.started) reasons.push('starting');
    if (this.stopping) reasons.push('stopping');
    if (!this.server.up) reasons.push('iperf3 server not listening');
    if (this.discoveryKey && !this.discovery?.synced) reasons.push('kubernetes peer discovery not synced');
    return reasons;
  }

  private serverOptions(cfg: AgentConfig): Iperf3ServerOptions {
    return { ...(cfg.address ? { bind: cfg.address } : {}), port: cfg.iperf3.port, idleTimeout: cfg.iperf3.idleTimeout };
  }

  private applyDiscovery(): void {
    const k = this.cfg.discovery.kubernetes;
    const key = k ? JSON.stringify([k, this.cfg.network]) : '';
    if (key === this.discoveryKey) return;
    this.discovery?.stop();
    this.discovery = undefined;
    this.discovered = [];
    this.discoveryKey = key;
    if (!k) return;
    // Loaded on demand: @kubernetes/client-node is heavy and static-peer agents never need it.
    const loading = import('./kubeDiscovery.js').then(({ kubernetesPeerSource }) => {
      if (this.discoveryKey !== key || this.stopping) return;
      const source = kubernetesPeerSource({
        config: k,
        self: this.node,
        network: this.cfg.network,
        log: this.log,
        onPeers: (peers) => {
          if (this.discovery !== source || this.stopping) return;
          this.discovered = peers;
          this.refreshPeers();
        },
      });
      this.discovery = source;
      return source.start();
    });
    this.discoveryLoading = loading.catch((err: unknown) => this.log.error({ err: String(err) }, 'kubernetes discovery failed to start'));
  }

  /** Recomputes the peer set; peers that left lose their results and series; timers follow. */
  private refreshPeers(): void {
    if (this.stopping) return;
    const next = new Map(mergePeers(this.cfg.peers, this.discovered, this.node).map((p) => [p.name, p]));
    for (const [name, old] of this.peers) {
      const now = next.get(name);
      if (!now || now.address !== old.address) {
        this.store.remove(name);
        this.metrics.forget(name);
        this.log.info({ peer: name, address: old.address, ...(now ? { newAddress: now.address } : {}) }, now ? 'peer moved' : 'peer left');
      }
    }
    for (const [name, p] of next) if (!this.peers.has(name)) this.log.info({ peer: name, address: p.address }, 'peer joined');
    this.peers = next;
    this.metrics.peers.set(next.size);
    this.reschedule();
  }

  private targetsOf(m: MeasurementConfig): PeerEntry[] {
    if (m.targets === 'all') return this.peerList();
    return m.targets.map((t) => this.peers.get(t)).filter((p): p is PeerEntry => p !== undefined);
  }

  private reschedule(): void {
    const rttJobs: RttJob[] = [];
    this.rttMetrics = new Map();
    this.cfg.metrics.forEach((m, i) => {
      if (m.type !== 'rtt') return;
      for (const peer of this.targetsOf(m)) {
        const key = JSON.stringify([i, m, peer, this.cfg.address ?? null]);
        this.rttMetrics.set(key, m);
        // the timeout only matters when replies are lost; a probe fitting between two iperf3 tests is what counts
        const runSeconds = m.ping.count * m.ping.spacing + Math.min(m.ping.timeout, 0.5);
        rttJobs.push({ key, target: peer.name, address: peer.address, interval: m.interval, runSeconds });
      }
    });
    this.rtt.update(rttJobs);

    this.iperf3Metrics = this.cfg.metrics.filter((m) => m.type !== 'rtt');
    const jobs: Iperf3Job[] = this.iperf3Metrics.map((m) => ({
      type: m.type,
      interval: m.interval,
      duration: m.iperf3.duration,
      omit: m.iperf3.omit,
      targets: m.targets,
    }));
    const nodes = [this.node, ...this.peers.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    this.bandwidth.update({ nodes, self: this.node, jobs, ...(this.cfg.iperf3.slot !== undefined ? { slotSeconds: this.cfg.iperf3.slot } : {}) });
  }

  private async runRtt(job: RttJob): Promise<void> {
    const m = this.rttMetrics.get(job.key);
    if (!m) return;
    const outcome = await runPing({
      target: job.address,
      ...(this.cfg.address ? { source: this.cfg.address } : {}),
      count: m.ping.count,
      spacing: m.ping.spacing,
      timeout: m.ping.timeout,
      size: m.ping.size,
      signal: this.abort.signal,
    }).catch((err: unknown) => ({ kind: 'error' as const, message: String(err) }));
    this.save(job.target, job.address, recordFromPing(outcome, Date.now() / 1000));
  }

  private async runBandwidth(test: PlannedTest, attempt: number): Promise<MeasurementResult> {
    const m = this.iperf3Metrics[test.job];
    const peer = this.peers.get(test.target);
    if (!m || !peer || m.type === 'rtt') return 'error';
    this.log.debug({ target: test.target, type: m.type, attempt, slot: test.slotIndex }, 'iperf3 test');
    const outcome = await runIperf3Client({
      target: peer.address,
      port: this.cfg.iperf3.port,
      ...(this.cfg.address ? { source: this.cfg.address } : {}),
      mode: m.type === 'udp-jitter' ? 'udp' : 'tcp',
      duration: m.iperf3.duration,
      omit: m.iperf3.omit,
      parallel: m.iperf3.parallel,
      udpRate: m.iperf3.udpRate,
      signal: this.abort.signal,
    }).catch((err: unknown) => ({ result: 'error' as const, error: String(err) }));
    const rec = recordFromIperf3(m.type, outcome, Date.now() / 1000);
    this.save(test.target, peer.address, rec);
    return rec.result;
  }

  /** Stores a result unless the peer left (or moved) while the run was in flight. */
  private save(target: string, address: string, rec: MeasurementRecord): void {
    if (this.stopping || this.peers.get(target)?.address !== address) return;
    this.store.record(target, address, rec);
    this.metrics.observe(target, rec);
    const level = rec.result === 'success' && !rec.error ? 'debug' : 'warn';
    this.log[level]({ target, type: rec.type, result: rec.result, values: rec.values, ...(rec.error ? { error: rec.error } : {}) }, 'measurement');
  }
}
