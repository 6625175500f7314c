// The userspace link emulator: one process in the root namespace, one UDP socket per directed
// link on the root bridge's address. A node's VXLAN device sends a frame for peer j to the port
// of link i->j (static fdb entry); the emulator applies that link's loss, rate and delay and
// forwards the datagram, unchanged, to j's VXLAN port. Counters per link are served on
// loopback: Prometheus text on /metrics, JSON on /api/v1/emulated-links, live changes by PUT.
//
// Threads: "lanes", each serving a group of links (linkGroups.ts: a fast link gets a lane of its
// own, a link and its reverse never share one). A lane's receiving thread (emulatorLane.ts) shapes
// every packet and queues it in its link's ring in shared memory (packetRing.ts); the lane's
// sending thread (emulatorSender.ts) sends it when it is due. So a link carrying hundreds of
// Mbit/s keeps two threads busy, not the links beside it. This main thread only serves HTTP and
// reads the counters and timing histograms the others keep in shared memory (emulatorShared.ts).
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { execa } from 'execa';
import Fastify, { type FastifyInstance } from 'fastify';
import { Counter, Gauge, Registry } from 'prom-client';
import { listenError } from '../../src/listen.js';
import type { Logger } from '../../src/log.js';
import { linkPropertiesPatchSchema, withDefaults, type LinkProperties } from '../topology.js';
import { formatPath } from '../../src/config/loadYaml.js';
import type { LaneData, LaneToMain, MainToLane } from './emulatorLane.js';
import type { SenderData, SenderToMain } from './emulatorSender.js';
import { createShared, CTL, LANE, LINK, SharedViews } from './emulatorShared.js';
import {
  fractionWithin,
  histogramDiff,
  histogramLines,
  histogramQuantile,
  histogramSum,
  LATENESS_BOUNDS,
  PROBE_ERROR_BOUNDS,
  type HistogramSnapshot,
} from './latencyHistogram.js';
import { assignLanes, laneCount } from './linkGroups.js';
import type { DropReason } from './linkShaper.js';
import { PacketRing, ringSlotsFor } from './packetRing.js';
import { linkKey, type LabPlan } from './plan.js';
import { monotonicMs } from './receiveLatency.js';
import type { EmulatorInfo } from './state.js';

/** JSON shape of one link on /api/v1/emulated-links. */
export interface EmulatorLinkReport {
  source: string;
  target: string;
  port: number;
  /** Receiving thread serving the link. */
  lane: number;
  properties: LinkProperties;
  counters: { bytes: number; packets: number; dropped: Record<DropReason, number> };
  /** Seconds a packet arriving now would wait for the rate limiter. */
  queueDelay: number;
}

/** The emulator's own timing, over some span of time. */
export interface EmulatorTiming {
  /** How late packets left against their due time: the emulator's own added latency. */
  lateness: { packets: number; meanSeconds: number; maxSeconds: number; p50Seconds?: number; p99Seconds?: number };
  /**
   * A probe crossing every lane each 50 ms like a packet of a 1 ms link, timed from when the kernel
   * received it: the error a ping through the emulator sees (receive wait beyond the compensation,
   * plus lateness). Signed: negative is early. `within200us`: the fraction within ±0.2 ms.
   */
  probe: { probes: number; p1Seconds?: number; p50Seconds?: number; p99Seconds?: number; within200us?: number };
}

export interface EmulatorReport extends EmulatorTiming {
  lab: string;
  /** Estimated kernel-to-handler latency (s) that packet arrival times are dated back by: the largest of the lanes' (0 = off). */
  receiveLatencySeconds: number;
  compensate: boolean;
  /** The last ~10 s (absent in the first second). */
  recent?: EmulatorTiming & { seconds: number };
  lanes: Array<{ lane: number; links: string[]; receiveLatencySeconds: number; latenessP99Seconds?: number; probeP99Seconds?: number }>;
  /** Idle-priority threads keeping idle CPUs awake (0: off, or not permitted). */
  idlePollers: number;
  /** The raw histograms since the start, to take differences of (the bench does). */
  histograms: { lateness: HistogramSnapshot; probe: HistogramSnapshot };
  links: EmulatorLinkReport[];
}

export interface RunningEmulator {
  info: EmulatorInfo;
  report(): EmulatorReport;
  close(): Promise<void>;
}

export interface EmulatorOptions {
  /** Date each packet's arrival back by the measured receive latency (default true). */
  compensate?: boolean;
  /** Keep idle CPUs from sleeping with idle-priority pollers (default true; see startIdlePollers). */
  idlePoll?: boolean;
  /** Loopback port of the HTTP API (default 0: one the kernel picks). */
  httpPort?: number;
}

/** Summary of a lateness and a probe histogram. */
export function timingOf(lateness: HistogramSnapshot, probe: HistogramSnapshot): EmulatorTiming {
  const q = (h: HistogramSnapshot, p: number) => {
    const v = histogramQuantile(h, p);
    return v === undefined ? {} : { [`p${Math.round(p * 100)}Seconds`]: v };
  };
  const within = fractionWithin(probe, -200e-6, 200e-6);
  return {
    lateness: {
      packets: lateness.count,
      meanSeconds: lateness.count ? lateness.sum / lateness.count : 0,
      maxSeconds: lateness.count ? lateness.max : 0,
      ...q(lateness, 0.5),
      ...q(lateness, 0.99),
    },
    probe: { probes: probe.count, ...q(probe, 0.01), ...q(probe, 0.5), ...q(probe, 0.99), ...(within === undefined ? {} : { within200us: within }) },
  };
}

/**
 * Starts the threads, opens the link sockets and the HTTP API. When a socket cannot be bound (the
 * emulator address is not on this host, the HTTP port is taken) everything started so far is
 * stopped again and the promise rejects with a ListenError, so the emulator process exits instead
 * of idling half-open.
 */
export async function startEmulator(plan: LabPlan, log: Logger, opts: EmulatorOptions = {}): Promise<RunningEmulator> {
  const opened: Array<() => unknown> = [];
  try {
    return await openEmulator(plan, log, opts, opened);
  } catch (err) {
    for (const close of opened.reverse()) await Promise.resolve().then(close).catch(() => undefined);
    throw err;
  }
}

const SCHED_FIFO = 1;
const SCHED_IDLE = 5;

/** The scheduling policy and real-time priority in a /proc stat file (of a process or a thread). */
async function schedulingOf(statFile: string): Promise<{ policy: number; rtPriority: number }> {
  const stat = await readFile(statFile, 'utf8');
  // after "pid (comm) ": field 3 is index 0, so rt_priority (40) is index 37, policy (41) index 38
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { policy: Number(f[38]), rtPriority: Number(f[37]) };
}

/**
 * With real-time priority (`lab up` runs the emulator under `chrt -f`), a sending thread gets one
 * level more than the rest: when its timer fires it must run at once, not after a lane (or another
 * lab's emulator) that is busy at the same level. Its CPU time is short: it sleeps between packets.
 */
async function raiseSender(tid: number, log: Logger): Promise<void> {
  try {
    const { policy, rtPriority } = await schedulingOf('/proc/self/stat');
    if (policy !== SCHED_FIFO || !(rtPriority > 0 && rtPriority < 99)) return;
    await execa('chrt', ['-f', '-p', String(rtPriority + 1), String(tid)], { timeout: 5000 });
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'cannot raise the sending thread\'s priority; packets may leave later');
  }
}

/**
 * One thread per CPU that spins at SCHED_IDLE priority, so an idle CPU never halts. A virtual
 * machine whose idle vCPUs halt without polling (Firecracker: guest_halt_poll_ns = 0) wakes a
 * thread milliseconds late now and then: a lane's receive, a sender's timer. A SCHED_IDLE thread
 * runs only when nothing else wants the CPU, so it takes no time from any other work, yet the CPU
 * stays awake and every wake-up is immediate. A poller spins only once the kernel has confirmed
 * its idle priority (`chrt -i`): started under `chrt -f`, it would otherwise spin in real time.
 */
async function startIdlePollers(log: Logger): Promise<Worker[]> {
  const code = `
const { parentPort } = require('node:worker_threads');
const { readlinkSync } = require('node:fs');
parentPort.once('message', () => { for (;;) {} });
parentPort.postMessage(Number(readlinkSync('/proc/thread-self').split('/').pop()));`;
  const out: Worker[] = [];
  for (let i = 0; i < availableParallelism(); i++) {
    const w = new Worker(code, { eval: true });
    const tid = await new Promise<number>((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
    }).catch(() => NaN);
    try {
      if (!Number.isInteger(tid)) throw new Error('no thread id');
      await execa('chrt', ['-i', '-p', '0', String(tid)], { timeout: 5000 });
      if ((await schedulingOf(`/proc/${process.pid}/task/${tid}/stat`)).policy !== SCHED_IDLE) throw new Error('not SCHED_IDLE');
    } catch (err) {
      await w.terminate();
      log.warn({ err: (err as Error).message }, 'cannot start the idle pollers: threads woken on idle CPUs may be late');
      for (const x of out) await x.terminate();
      return [];
    }
    w.postMessage('spin');
    out.push(w);
  }
  return out;
}

/** Starts a worker and waits for its first message: 'ready', or an error naming what failed. */
function startWorker<T extends { type: string }>(file: string, kind: string, data: unknown, address: string): Promise<{ worker: Worker; first: T }> {
  const worker = new Worker(new URL(file, import.meta.url), { workerData: { kind, data } });
  return new Promise((resolve, reject) => {
    const fail = (err: Error) => {
      void worker.terminate();
      reject(err);
    };
    worker.once('message', (m: T & { message?: string; code?: string; what?: string }) => {
      worker.off('error', fail);
      if (m.type === 'error') {
        void worker.terminate();
        const e = Object.assign(new Error(m.message ?? 'failed'), m.code ? { code: m.code } : {});
        reject(listenError(e, address, 0, m.what ?? kind));
      } else resolve({ worker, first: m });
    });
    worker.once('error', fail);
    worker.once('exit', (code) => fail(new Error(`emulator ${kind} thread exited (${code}) before it was ready`)));
  });
}

async function openEmulator(plan: LabPlan, log: Logger, opts: EmulatorOptions, opened: Array<() => unknown>): Promise<RunningEmulator> {
  const compensate = opts.compensate ?? true;
  const nodes = new Map(plan.nodes.map((n) => [n.name, n]));
  for (const l of plan.links) if (!nodes.has(l.from) || !nodes.has(l.to)) throw new Error(`link ${linkKey(l.from, l.to)}: unknown node`);

  const laneOf = assignLanes(plan.links.map((l) => ({ from: l.from, to: l.to, rate: l.rate })));
  const lanes = Math.max(1, laneCount(plan.links));
  const shared = createShared(plan.links.length, lanes, monotonicMs());
  const views = new SharedViews(shared);
  const props: LinkProperties[] = plan.links.map(({ from: _f, to: _t, ...p }) => p);
  const rings = props.map((p) => PacketRing.create(ringSlotsFor(p)));
  const probeRings = Array.from({ length: lanes }, () => PacketRing.create(64));

  const stopThreads = () => {
    for (let lane = 0; lane < lanes; lane++) {
      Atomics.store(views.control, lane * CTL.SLOTS + CTL.STOP, 1);
      Atomics.add(views.control, lane * CTL.SLOTS + CTL.GEN, 1);
      Atomics.notify(views.control, lane * CTL.SLOTS + CTL.GEN);
    }
  };
  const laneWorkers: Worker[] = [];
  const ports: number[] = new Array<number>(plan.links.length).fill(0);
  const probePorts: number[] = [];
  for (let lane = 0; lane < lanes; lane++) {
    const data: LaneData = {
      lane,
      address: plan.emulatorAddress,
      compensate,
      links: plan.links.flatMap((l, index) =>
        laneOf[index] === lane ? [{ index, from: l.from, to: l.to, ring: rings[index]!.buffers, properties: props[index]! }] : [],
      ),
      probeRing: probeRings[lane]!.buffers,
      shared,
    };
    const { worker, first } = await startWorker<LaneToMain>('./emulatorLane.js', 'lane', data, plan.emulatorAddress);
    opened.push(() => worker.terminate());
    laneWorkers.push(worker);
    if (first.type !== 'ready') throw new Error('lane not ready');
    for (const [i, p] of Object.entries(first.ports)) ports[Number(i)] = p;
    probePorts.push(first.probePort);
  }
  const senders: Worker[] = [];
  opened.push(stopThreads);
  for (let lane = 0; lane < lanes; lane++) {
    const senderData: SenderData = {
      lane,
      shared,
      address: plan.emulatorAddress,
      vxlanPort: plan.vxlanPort,
      nodes: plan.nodes.map((n) => ({ name: n.name, underlayAddress: n.underlayAddress })),
      links: plan.links.flatMap((l, index) => (laneOf[index] === lane ? [{ index, to: l.to, ring: rings[index]!.buffers }] : [])),
      probeRing: probeRings[lane]!.buffers,
      probePort: probePorts[lane]!,
    };
    const { worker, first } = await startWorker<SenderToMain>('./emulatorSender.js', 'sender', senderData, plan.emulatorAddress);
    opened.push(() => worker.terminate());
    senders.push(worker);
    if (first.type === 'ready' && first.tid !== undefined) await raiseSender(first.tid, log);
  }
  for (const w of [...laneWorkers, ...senders]) w.on('error', (err) => log.error({ err: err.message }, 'emulator thread failed'));
  const pollers = (opts.idlePoll ?? true) ? await startIdlePollers(log) : [];
  opened.push(() => Promise.all(pollers.map((w) => w.terminate())));

  const registry = new Registry();
  const labels = ['source_node', 'target_node'];
  const linkLabels = (i: number) => ({ source_node: plan.links[i]!.from, target_node: plan.links[i]!.to });
  const counterFrom = (name: string, help: string, field: number) =>
    new Counter({
      name,
      help,
      labelNames: labels,
      registers: [registry],
      collect() {
        this.reset();
        plan.links.forEach((_l, i) => this.inc(linkLabels(i), views.link(i, field)));
      },
    });
  counterFrom('lpm_lab_link_bytes_total', 'UDP payload bytes (VXLAN header + inner frame) that entered the directed link, before drops', LINK.BYTES);
  counterFrom('lpm_lab_link_packets_total', 'Packets that entered the directed link, before drops', LINK.PACKETS);
  new Counter({
    name: 'lpm_lab_link_dropped_packets_total',
    help: 'Packets dropped on the directed link; reason = loss (random) or queue (rate limiter queue full)',
    labelNames: [...labels, 'reason'],
    registers: [registry],
    collect() {
      this.reset();
      plan.links.forEach((_l, i) => {
        this.inc({ ...linkLabels(i), reason: 'loss' }, views.link(i, LINK.DROP_LOSS));
        this.inc({ ...linkLabels(i), reason: 'queue' }, views.link(i, LINK.DROP_QUEUE));
      });
    },
  });
  const propGauges = {
    delay: new Gauge({ name: 'lpm_lab_link_delay_seconds', help: 'Configured one-way delay', labelNames: labels, registers: [registry] }),
    jitter: new Gauge({ name: 'lpm_lab_link_jitter_seconds', help: 'Configured jitter (delay is uniform in delay ± jitter)', labelNames: labels, registers: [registry] }),
    loss: new Gauge({ name: 'lpm_lab_link_loss_ratio', help: 'Configured random loss', labelNames: labels, registers: [registry] }),
    rate: new Gauge({ name: 'lpm_lab_link_rate_bytes_per_second', help: 'Configured rate (absent = unlimited)', labelNames: labels, registers: [registry] }),
    queue: new Gauge({ name: 'lpm_lab_link_queue_limit_seconds', help: 'Configured longest wait in the rate limiter queue', labelNames: labels, registers: [registry] }),
  };
  const setGauges = (i: number) => {
    const p = props[i]!;
    const lv = linkLabels(i);
    propGauges.delay.set(lv, p.delay);
    propGauges.jitter.set(lv, p.jitter);
    propGauges.loss.set(lv, p.loss);
    if (p.rate === null) propGauges.rate.remove(lv);
    else propGauges.rate.set(lv, p.rate);
    propGauges.queue.set(lv, p.queue);
  };
  plan.links.forEach((_l, i) => setGauges(i));
  new Gauge({
    name: 'lpm_lab_emulator_receive_latency_seconds',
    help: 'Measured median latency from the kernel to a lane\'s handler (wake-up), per receiving lane; arrival times are dated back by it when compensation is on',
    labelNames: ['lane'],
    registers: [registry],
    collect() {
      for (let lane = 0; lane < lanes; lane++) this.set({ lane: String(lane) }, views.lanes[lane * LANE.SLOTS + LANE.RECEIVE_ESTIMATE_MS]! / 1000);
    },
  });
  new Gauge({ name: 'lpm_lab_emulator_lanes', help: 'Receiving threads of the emulator', registers: [registry] }).set(lanes);
  new Counter({
    name: 'lpm_lab_emulator_send_errors_total',
    help: 'Errors the sending sockets reported (target namespace gone, buffer full)',
    registers: [registry],
    collect() {
      this.reset();
      for (let lane = 0; lane < lanes; lane++) this.inc(Atomics.load(views.control, lane * CTL.SLOTS + CTL.SEND_ERRORS));
    },
  });

  const laneHistograms = () => ({
    lateness: histogramSum(Array.from({ length: lanes }, (_, i) => views.lateness(i).snapshot()), LATENESS_BOUNDS),
    probe: histogramSum(Array.from({ length: lanes }, (_, i) => views.probeError(i).snapshot()), PROBE_ERROR_BOUNDS),
  });
  // a snapshot every second, for the "last 10 s" figures
  const history: Array<{ at: number; h: ReturnType<typeof laneHistograms> }> = [];
  const sampler = setInterval(() => {
    history.push({ at: monotonicMs(), h: laneHistograms() });
    if (history.length > 11) history.shift();
  }, 1000);
  sampler.unref();
  opened.push(() => clearInterval(sampler));

  const report = (): EmulatorReport => {
    const now = monotonicMs();
    const h = laneHistograms();
    const old = history[0];
    const recent = old
      ? { seconds: Math.round((now - old.at) / 100) / 10, ...timingOf(histogramDiff(old.h.lateness, h.lateness), histogramDiff(old.h.probe, h.probe)) }
      : undefined;
    const estimates = Array.from({ length: lanes }, (_, i) => views.lanes[i * LANE.SLOTS + LANE.RECEIVE_ESTIMATE_MS]! / 1000);
    return {
      lab: plan.name,
      receiveLatencySeconds: compensate ? Math.max(0, ...estimates) : 0,
      compensate,
      ...timingOf(h.lateness, h.probe),
      ...(recent ? { recent } : {}),
      lanes: estimates.map((receiveLatencySeconds, lane) => {
        const l = histogramQuantile(views.lateness(lane).snapshot(), 0.99);
        const p = histogramQuantile(views.probeError(lane).snapshot(), 0.99);
        return {
          lane,
          links: plan.links.flatMap((x, i) => (laneOf[i] === lane ? [linkKey(x.from, x.to)] : [])),
          receiveLatencySeconds,
          ...(l === undefined ? {} : { latenessP99Seconds: l }),
          ...(p === undefined ? {} : { probeP99Seconds: p }),
        };
      }),
      idlePollers: pollers.length,
      histograms: h,
      links: plan.links.map((l, i) => ({
        source: l.from,
        target: l.to,
        port: ports[i]!,
        lane: laneOf[i]!,
        properties: { ...props[i]! },
        counters: {
          bytes: views.link(i, LINK.BYTES),
          packets: views.link(i, LINK.PACKETS),
          dropped: { loss: views.link(i, LINK.DROP_LOSS), queue: views.link(i, LINK.DROP_QUEUE) },
        },
        queueDelay: Math.max(0, views.link(i, LINK.FREE_AT) - now / 1000),
      })),
    };
  };

  const index = new Map(plan.links.map((l, i) => [linkKey(l.from, l.to), i]));
  const app: FastifyInstance = Fastify({ logger: false });
  app.get('/healthz', async () => ({ ok: true }));
  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', registry.contentType);
    const h = laneHistograms();
    const hist = (name: string, help: string, s: HistogramSnapshot) => [`# HELP ${name} ${help}`, `# TYPE ${name} histogram`, ...histogramLines(name, s)];
    return [
      (await registry.metrics()).trimEnd(),
      ...hist('lpm_lab_emulator_lateness_seconds', 'How late the emulator sent packets relative to their due time (its own added latency)', h.lateness),
      ...hist(
        'lpm_lab_emulator_probe_error_seconds',
        'Departure error of a probe crossing each receiving lane every 50 ms like a packet of a 1 ms link, against its true schedule (negative: early)',
        h.probe,
      ),
      '',
    ].join('\n');
  });
  app.get('/api/v1/emulated-links', async () => report());
  const change = async (req: { params: unknown; body: unknown }, reply: { code(n: number): unknown }) => {
    const { source, target } = req.params as { source: string; target: string };
    const i = index.get(linkKey(source, target));
    if (i === undefined) {
      reply.code(404);
      return { error: `no link ${linkKey(source, target)} in lab ${plan.name}` };
    }
    const parsed = linkPropertiesPatchSchema.safeParse(req.body ?? {});
    if (!parsed.success) {
      reply.code(400);
      return { error: parsed.error.issues.map((x) => `${formatPath(x.path)}: ${x.message}`).join('; ') };
    }
    props[i] = withDefaults(props[i]!, parsed.data);
    laneWorkers[laneOf[i]!]!.postMessage({ type: 'update', index: i, patch: parsed.data } satisfies MainToLane);
    setGauges(i);
    log.info({ link: linkKey(source, target), properties: props[i] }, 'link changed');
    return report().links[i];
  };
  app.put('/api/v1/emulated-links/:source/:target', change);
  app.post('/api/v1/emulated-links/:source/:target', change);
  opened.push(() => app.close());
  const apiPort = opts.httpPort ?? 0;
  try {
    await app.listen({ host: '127.0.0.1', port: apiPort });
  } catch (err) {
    throw listenError(err, '127.0.0.1', apiPort, 'HTTP API');
  }
  const addr = app.server.address();
  const httpPort = typeof addr === 'object' && addr ? addr.port : 0;

  const info: EmulatorInfo = {
    pid: process.pid,
    httpPort,
    address: plan.emulatorAddress,
    ports: Object.fromEntries(plan.links.map((l, i) => [linkKey(l.from, l.to), ports[i]!])),
  };
  log.info({ httpPort, links: plan.links.length, lanes, lanesOf: report().lanes.map((l) => l.links.join(' ')), idlePollers: pollers.length }, 'emulator ready');

  return {
    info,
    report,
    async close() {
      clearInterval(sampler);
      stopThreads();
      for (const w of senders) w.postMessage({ type: 'close' });
      for (const w of laneWorkers) w.postMessage({ type: 'close' } satisfies MainToLane);
      const exit = (w: Worker) =>
        new Promise<void>((resolve) => {
          const t = setTimeout(() => void w.terminate().finally(resolve), 2000);
          w.once('exit', () => {
            clearTimeout(t);
            resolve();
          });
        });
      await Promise.all(pollers.map((w) => w.terminate()));
      await Promise.all([...laneWorkers, ...senders].map(exit));
      await app.close();
    },
  };
}
