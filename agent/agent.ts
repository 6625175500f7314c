// The agent: wires config, targets, schedulers, runners, results, metrics and HTTP together.
// Everything it decides is in src/ (schedule, parsing, record rules); this file only moves data.
import type { Iperf3Job, PlannedTest } from './bandwidth/timetable.js';
import type { AgentConfig, MeasurementConfig } from './config.js';
import { ConfigError } from '../src/config/loadYaml.js';
import type { MeasurementResult } from '../src/linkMetrics.js';
import type { Logger } from '../src/log.js';
import { recordFromIperf3, recordFromPing, type MeasurementRecord } from './measurementRecord.js';
import { mergeTargets, type TargetEntry } from './targetPods.js';
import { probeSeconds, rttRunSeconds } from './config.js';
import { BandwidthWindowTimer } from './bandwidth/windowTimer.js';
import { startHttp, type AgentHttp } from './http.js';
import type { Iperf3ServerOptions } from './tools/iperf3Server.js';
import { Iperf3Servers } from './iperf3Servers.js';
import { InterfaceWatch } from './interfaceWatch.js';
import { CompatMetrics } from './lpmCompat/compatMetrics.js';
import type { TargetSource } from './kubeDiscovery.js';
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
  /** The original LPM's metric names (config compatMetrics). */
  readonly compat: CompatMetrics;
  private readonly servers: Iperf3Servers;
  /** Config `interface`: watched while set; probes and servers run only while it exists. */
  private iface: InterfaceWatch | undefined;
  private ifaceName: string | undefined;
  private ifaceUp = true;
  private readonly rtt: RttProbeTimers;
  private readonly bandwidth: BandwidthWindowTimer;
  private readonly abort = new AbortController();
  private http: AgentHttp | undefined;
  private discovery: TargetSource | undefined;
  private discoveryKey = '';
  private discoveryLoading: Promise<unknown> = Promise.resolve();
  private discovered: TargetEntry[] = [];
  private targets = new Map<string, TargetEntry>();
  private iperf3Measurements: MeasurementConfig[] = [];
  private rttMeasurements = new Map<string, MeasurementConfig>();
  private started = false;
  private stopping = false;

  constructor(
    private cfg: AgentConfig,
    readonly node: string,
    private readonly log: Logger,
  ) {
    this.store = new ResultStore(cfg.historySize);
    this.metrics = new AgentMetrics(this.store, () => ({ node: this.node, network: this.cfg.network }));
    this.compat = new CompatMetrics(this.metrics.registry, this.store, () => this.node);
    this.compat.setEnabled(cfg.compatMetrics);
    this.servers = new Iperf3Servers(log, {
      onChange: (allUp) => this.metrics.iperf3ServerUp.set(allUp ? 1 : 0),
      onRestart: () => this.metrics.iperf3ServerRestarts.inc(),
    });
    // an RTT run never overlaps a bandwidth window of this node or the target (see timetable.ts)
    this.rtt = new RttProbeTimers(
      (job) => this.runRtt(job),
      Math.random,
      (job, from, guard) => this.bandwidth.quietStart(job.target, from, job.runSeconds, guard),
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

  targetList(): TargetEntry[] {
    return [...this.targets.values()];
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
    await this.applyInterface();
    await this.servers.sync(this.wantedServers());
    this.started = true;
    this.applyDiscovery();
    this.refreshTargets();
    this.log.info({ node: this.node, listen: this.cfg.listen, network: this.cfg.network, targets: this.targetList().map((t) => t.name) }, 'agent started');
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
    this.compat.setEnabled(next.compatMetrics);
    await this.applyInterface();
    await this.servers.sync(this.wantedServers());
    this.applyDiscovery();
    this.refreshTargets();
    this.log.info({ targets: this.targetList().map((t) => t.name), measurements: next.measurements.map((m) => m.type) }, 'config applied');
  }

  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.discovery?.stop();
    await this.discoveryLoading;
    this.discovery?.stop(); // in case it was being created just now
    this.iface?.stop();
    this.abort.abort();
    await Promise.allSettled([this.rtt.stop(), this.bandwidth.stop()]);
    await this.servers.stop();
    await this.http?.close();
    this.log.info('agent stopped');
  }

  private notReady(): string[] {
    const reasons: string[] = [];
    if (!this.started) reasons.push('starting');
    if (this.stopping) reasons.push('stopping');
    if (this.ifaceName && !this.ifaceUp) reasons.push(`interface "${this.ifaceName}" not found: waiting for it to appear`);
    else
      for (const port of this.servers.notListening())
        reasons.push(port === this.cfg.iperf3.port ? 'iperf3 server not listening' : `iperf3 server on port ${port} not listening`);
    if (this.discoveryKey && !this.discovery?.synced) reasons.push('kubernetes target discovery not synced');
    return reasons;
  }

  /** The iperf3 servers to run now: on iperf3.port and iperf3.udpPort, none while the interface is missing. */
  private wantedServers(): Iperf3ServerOptions[] {
    if (!this.ifaceUp) return [];
    const cfg = this.cfg;
    const base = {
      ...(cfg.address ? { bind: cfg.address } : {}),
      ...(cfg.interface ? { bindDev: cfg.interface } : {}),
      idleTimeout: cfg.iperf3.idleTimeout,
    };
    return [{ ...base, port: cfg.iperf3.port }, ...(cfg.iperf3.udpPort !== undefined ? [{ ...base, port: cfg.iperf3.udpPort }] : [])];
  }

  /**
   * Follows config `interface` (the original's probeInterface, an OVS port the switch creates
   * after the pod started): checked at once, then polled; probes and iperf3 servers run only while
   * it exists, and /readyz says why not meanwhile.
   */
  private async applyInterface(): Promise<void> {
    const name = this.cfg.interface;
    if (name === this.ifaceName) return;
    this.iface?.stop();
    this.iface = undefined;
    this.ifaceName = name;
    if (!name) {
      this.setInterfaceUp(true);
      return;
    }
    const watch = new InterfaceWatch(name, (present) => {
      if (this.iface === watch) this.setInterfaceUp(present);
    });
    this.iface = watch;
    await watch.start();
  }

  private setInterfaceUp(up: boolean): void {
    if (this.stopping) return;
    const changed = up !== this.ifaceUp;
    this.ifaceUp = up;
    if (this.ifaceName)
      if (up) this.log.info({ interface: this.ifaceName }, 'interface present: measuring through it');
      else this.log.warn({ interface: this.ifaceName }, 'interface not found: waiting for it to appear (not ready)');
    if (!this.started || !changed) return; // start() and apply() sync the servers themselves
    // an interface that came back is a new device: re-bind the servers to it
    void this.servers.sync(this.wantedServers(), up);
    this.reschedule();
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
    // Loaded on demand: @kubernetes/client-node is heavy and agents with static targets only never need it.
    const loading = import('./kubeDiscovery.js').then(({ kubernetesTargetSource }) => {
      if (this.discoveryKey !== key || this.stopping) return;
      const source = kubernetesTargetSource({
        config: k,
        self: this.node,
        network: this.cfg.network,
        log: this.log,
        onTargets: (targets) => {
          if (this.discovery !== source || this.stopping) return;
          this.discovered = targets;
          this.refreshTargets();
        },
      });
      this.discovery = source;
      return source.start();
    });
    this.discoveryLoading = loading.catch((err: unknown) => this.log.error({ err: String(err) }, 'kubernetes discovery failed to start'));
  }

  /** Recomputes the target set; targets that left lose their results and series; timers follow. */
  private refreshTargets(): void {
    if (this.stopping) return;
    const next = new Map(mergeTargets(this.cfg.targets, this.discovered, this.node).map((t) => [t.name, t]));
    for (const [name, old] of this.targets) {
      const now = next.get(name);
      if (!now || now.address !== old.address) {
        this.store.remove(name);
        this.metrics.forget(name);
        this.log.info({ target: name, address: old.address, ...(now ? { newAddress: now.address } : {}) }, now ? 'target moved' : 'target left');
      }
    }
    for (const [name, t] of next) if (!this.targets.has(name)) this.log.info({ target: name, address: t.address }, 'target joined');
    this.targets = next;
    this.metrics.targets.set(next.size);
    this.reschedule();
  }

  private targetsOf(m: MeasurementConfig): TargetEntry[] {
    if (m.targets === 'all') return this.targetList();
    return m.targets.map((name) => this.targets.get(name)).filter((t): t is TargetEntry => t !== undefined);
  }

  private reschedule(): void {
    if (!this.ifaceUp) {
      // nothing to measure through: no timers until the interface is there
      this.rtt.update([]);
      this.bandwidth.update({ nodes: [this.node], self: this.node, jobs: [] });
      return;
    }
    const rttJobs: RttJob[] = [];
    this.rttMeasurements = new Map();
    this.cfg.measurements.forEach((m, i) => {
      if (m.type !== 'rtt') return;
      for (const target of this.targetsOf(m)) {
        const key = JSON.stringify([i, m, target, this.cfg.address ?? null, this.cfg.interface ?? null]);
        this.rttMeasurements.set(key, m);
        rttJobs.push({ key, target: target.name, address: target.address, interval: m.interval, runSeconds: rttRunSeconds(m.ping) });
      }
    });
    this.rtt.update(rttJobs);

    this.iperf3Measurements = this.cfg.measurements.filter((m) => m.type !== 'rtt');
    const jobs: Iperf3Job[] = this.iperf3Measurements.map((m) => ({
      type: m.type,
      interval: m.interval,
      duration: m.iperf3.duration,
      omit: m.iperf3.omit,
      targets: m.targets,
    }));
    const nodes = [this.node, ...this.targets.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    this.bandwidth.update({
      nodes,
      self: this.node,
      jobs,
      probeSeconds: probeSeconds(this.cfg),
      ...(this.cfg.iperf3.slot !== undefined ? { slotSeconds: this.cfg.iperf3.slot } : {}),
    });
  }

  private async runRtt(job: RttJob): Promise<void> {
    const m = this.rttMeasurements.get(job.key);
    if (!m) return;
    const outcome = await runPing({
      target: job.address,
      ...(this.cfg.address ? { source: this.cfg.address } : {}),
      ...(this.cfg.interface ? { interface: this.cfg.interface } : {}),
      count: m.ping.count,
      spacing: m.ping.spacing,
      timeout: m.ping.timeout,
      size: m.ping.size,
      signal: this.abort.signal,
    }).catch((err: unknown) => ({ kind: 'error' as const, message: String(err) }));
    this.save(job.target, job.address, { ...recordFromPing(outcome, Date.now() / 1000), window: m.window });
  }

  private async runBandwidth(test: PlannedTest, attempt: number): Promise<MeasurementResult> {
    const m = this.iperf3Measurements[test.job];
    const target = this.targets.get(test.target);
    if (!m || !target || m.type === 'rtt') return 'error';
    this.log.debug({ target: test.target, type: m.type, attempt, slot: test.slotIndex }, 'iperf3 test');
    const outcome = await runIperf3Client({
      target: target.address,
      // UDP tests go to the targets' UDP server when there is one (the original LPM's 5202)
      port: m.type === 'udp-jitter' ? (this.cfg.iperf3.udpPort ?? this.cfg.iperf3.port) : this.cfg.iperf3.port,
      ...(this.cfg.address ? { source: this.cfg.address } : {}),
      ...(this.cfg.interface ? { bindDev: this.cfg.interface } : {}),
      mode: m.type === 'udp-jitter' ? 'udp' : 'tcp',
      duration: m.iperf3.duration,
      omit: m.iperf3.omit,
      parallel: m.iperf3.parallel,
      udpRate: m.iperf3.udpRate,
      signal: this.abort.signal,
    }).catch((err: unknown) => ({ result: 'error' as const, error: String(err) }));
    const rec = recordFromIperf3(m.type, outcome, Date.now() / 1000);
    this.save(test.target, target.address, rec);
    return rec.result;
  }

  /** Stores a result unless the target left (or moved) while the run was in flight. */
  private save(target: string, address: string, rec: MeasurementRecord): void {
    if (this.stopping || this.targets.get(target)?.address !== address) return;
    this.store.record(target, address, rec);
    this.metrics.observe(target, rec);
    const level = rec.result === 'success' && !rec.error ? 'debug' : 'warn';
    this.log[level]({ target, type: rec.type, result: rec.result, values: rec.values, ...(rec.error ? { error: rec.error } : {}) }, 'measurement');
  }
}
