// The userspace link emulator: one process in the root namespace, one UDP socket per directed
// link on the root bridge's address. A node's VXLAN device sends a frame for peer j to the port
// of link i->j (static fdb entry); the emulator applies that link's loss, rate and delay and
// forwards the datagram, unchanged, to j's VXLAN port. Counters per link are served on
// loopback: Prometheus text on /metrics, JSON on /api/v1/links, live changes by PUT.
import dgram from 'node:dgram';
import { performance } from 'node:perf_hooks';
import Fastify, { type FastifyInstance } from 'fastify';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Logger } from '../../src/log.js';
import { linkPropertiesPatchSchema, type LinkProperties, type LinkPropertiesPatch } from '../topology.js';
import { formatPath } from '../../src/config/loadYaml.js';
import { LinkShaper, type DropReason } from './linkShaper.js';
import { linkKey, type LabPlan } from './plan.js';
import { PreciseTimer } from './preciseTimer.js';
import { ReceiveLatencyProbe } from './receiveLatency.js';
import type { EmulatorInfo } from './state.js';

interface EmulatedLink {
  from: string;
  to: string;
  shaper: LinkShaper;
  socket: dgram.Socket;
  port: number;
  out: dgram.Socket;
  bytes: number;
  packets: number;
  /** Packets of this link waiting in the schedule (a due packet may skip it only when 0). */
  queued: number;
  dropped: Record<DropReason, number>;
  m: {
    bytes: Counter.Internal;
    packets: Counter.Internal;
    drops: Record<DropReason, Counter.Internal>;
  };
}

/** JSON shape of one link on /api/v1/links. */
export interface EmulatorLinkReport {
  source: string;
  target: string;
  port: number;
  properties: LinkProperties;
  counters: { bytes: number; packets: number; dropped: Record<DropReason, number> };
  /** Seconds a packet arriving now would wait for the rate limiter. */
  queueDelay: number;
}

export interface EmulatorReport {
  lab: string;
  /** Estimated kernel-to-handler latency (s) that packet arrival times are dated back by (0 = off). */
  receiveLatencySeconds: number;
  compensate: boolean;
  /** How late packets left relative to their due time: the emulator's own added latency. */
  lateness: { packets: number; meanSeconds: number; maxSeconds: number };
  links: EmulatorLinkReport[];
}

const RECV_BUFFER = 4 * 1024 * 1024;

export interface RunningEmulator {
  info: EmulatorInfo;
  report(): EmulatorReport;
  close(): Promise<void>;
}

export interface EmulatorOptions {
  /** Date each packet's arrival back by the measured receive latency (default true). */
  compensate?: boolean;
}

export async function startEmulator(plan: LabPlan, log: Logger, opts: EmulatorOptions = {}): Promise<RunningEmulator> {
  const compensate = opts.compensate ?? true;
  const probe = new ReceiveLatencyProbe();
  await probe.start();
  const registry = new Registry();
  const labels = ['source_node', 'target_node'];
  const bytesC = new Counter({
    name: 'lpm_lab_link_bytes_total',
    help: 'UDP payload bytes (VXLAN header + inner frame) that entered the directed link, before drops',
    labelNames: labels,
    registers: [registry],
  });
  const packetsC = new Counter({
    name: 'lpm_lab_link_packets_total',
    help: 'Packets that entered the directed link, before drops',
    labelNames: labels,
    registers: [registry],
  });
  const dropsC = new Counter({
    name: 'lpm_lab_link_dropped_packets_total',
    help: 'Packets dropped on the directed link; reason = loss (random) or queue (rate limiter queue full)',
    labelNames: [...labels, 'reason'],
    registers: [registry],
  });
  const propGauges = {
    delay: new Gauge({ name: 'lpm_lab_link_delay_seconds', help: 'Configured one-way delay', labelNames: labels, registers: [registry] }),
    jitter: new Gauge({ name: 'lpm_lab_link_jitter_seconds', help: 'Configured jitter (delay is uniform in delay ± jitter)', labelNames: labels, registers: [registry] }),
    loss: new Gauge({ name: 'lpm_lab_link_loss_ratio', help: 'Configured random loss', labelNames: labels, registers: [registry] }),
    rate: new Gauge({ name: 'lpm_lab_link_rate_bytes_per_second', help: 'Configured rate (absent = unlimited)', labelNames: labels, registers: [registry] }),
    queue: new Gauge({ name: 'lpm_lab_link_queue_limit_seconds', help: 'Configured longest wait in the rate limiter queue', labelNames: labels, registers: [registry] }),
  };
  const lateness = new Histogram({
    name: 'lpm_lab_emulator_lateness_seconds',
    help: 'How late the emulator forwarded packets relative to their due time (its own added latency)',
    buckets: [10e-6, 25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2e-3, 5e-3, 10e-3],
    registers: [registry],
  });
  const sendErrors = new Counter({
    name: 'lpm_lab_emulator_send_errors_total',
    help: 'Datagrams the emulator could not forward (target namespace gone, buffer full)',
    registers: [registry],
  });
  new Gauge({
    name: 'lpm_lab_emulator_receive_latency_seconds',
    help: 'Measured median latency from the kernel to the emulator handler (wake-up); arrival times are dated back by it when compensation is on',
    registers: [registry],
    collect() {
      this.set(probe.estimate / 1000);
    },
  });
  let lateCount = 0;
  let lateSum = 0;
  let lateMax = 0;

  const nodes = new Map(plan.nodes.map((n) => [n.name, n]));
  // One connected sending socket per target node: no address lookup per datagram.
  const outSockets = new Map<string, dgram.Socket>();
  for (const n of plan.nodes) {
    const s = dgram.createSocket({ type: 'udp4', sendBufferSize: RECV_BUFFER });
    s.on('error', (err) => log.warn({ err: err.message, node: n.name }, 'send socket error'));
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.bind({ address: plan.emulatorAddress, port: 0 }, () => {
        s.connect(plan.vxlanPort, n.underlayAddress, () => {
          s.off('error', reject);
          resolve();
        });
      });
    });
    outSockets.set(n.name, s);
  }

  const forward = (link: EmulatedLink, buf: Buffer, dueMs: number, nowMs: number) => {
    const late = Math.max(0, nowMs - dueMs) / 1000;
    lateness.observe(late);
    lateCount++;
    lateSum += late;
    if (late > lateMax) lateMax = late;
    link.out.send(buf, (err) => {
      if (err) sendErrors.inc();
    });
  };
  const timer = new PreciseTimer<{ link: EmulatedLink; buf: Buffer }>((item, dueMs, nowMs) => {
    item.link.queued--;
    forward(item.link, item.buf, dueMs, nowMs);
  });

  const links = new Map<string, EmulatedLink>();
  const setGauges = (l: EmulatedLink) => {
    const p = l.shaper.properties;
    const lv = { source_node: l.from, target_node: l.to };
    propGauges.delay.set(lv, p.delay);
    propGauges.jitter.set(lv, p.jitter);
    propGauges.loss.set(lv, p.loss);
    if (p.rate === null) propGauges.rate.remove(lv);
    else propGauges.rate.set(lv, p.rate);
    propGauges.queue.set(lv, p.queue);
  };

  for (const pl of plan.links) {
    const { from, to, ...props } = pl;
    if (!nodes.has(from) || !nodes.has(to)) throw new Error(`link ${linkKey(from, to)}: unknown node`);
    const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: RECV_BUFFER });
    const port = await new Promise<number>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind({ address: plan.emulatorAddress, port: 0 }, () => {
        socket.off('error', reject);
        resolve(socket.address().port);
      });
    });
    const lv = { source_node: from, target_node: to };
    const link: EmulatedLink = {
      from,
      to,
      shaper: new LinkShaper(props),
      socket,
      port,
      out: outSockets.get(to)!,
      bytes: 0,
      packets: 0,
      queued: 0,
      dropped: { loss: 0, queue: 0 },
      m: {
        bytes: bytesC.labels(lv),
        packets: packetsC.labels(lv),
        drops: { loss: dropsC.labels({ ...lv, reason: 'loss' }), queue: dropsC.labels({ ...lv, reason: 'queue' }) },
      },
    };
    // Series exist from the start (at 0), so rate() works from the first scrape.
    link.m.drops.loss.inc(0);
    link.m.drops.queue.inc(0);
    link.m.bytes.inc(0);
    link.m.packets.inc(0);
    setGauges(link);
    socket.on('error', (err) => log.warn({ err: err.message, link: linkKey(from, to) }, 'link socket error'));
    socket.on('message', (buf) => {
      const nowMs = performance.now();
      // The packet reached the kernel before this handler ran: date it back by the measured
      // wake-up latency, so that latency is not added to the link's delay.
      const arrivalMs = compensate ? nowMs - probe.estimate : nowMs;
      link.bytes += buf.length;
      link.packets++;
      link.m.bytes.inc(buf.length);
      link.m.packets.inc();
      const v = link.shaper.admit(arrivalMs / 1000, buf.length);
      if ('drop' in v) {
        link.dropped[v.drop]++;
        link.m.drops[v.drop].inc();
        return;
      }
      const dueMs = v.due * 1000;
      // Already due (no delay, idle rate limiter) and nothing of this link waiting: send now
      // rather than one event-loop turn later.
      if (dueMs <= nowMs && link.queued === 0) return forward(link, buf, dueMs, nowMs);
      link.queued++;
      timer.at(dueMs, { link, buf });
    });
    links.set(linkKey(from, to), link);
  }

  const report = (): EmulatorReport => {
    const now = performance.now() / 1000;
    return {
      lab: plan.name,
      receiveLatencySeconds: probe.estimate / 1000,
      compensate,
      lateness: { packets: lateCount, meanSeconds: lateCount ? lateSum / lateCount : 0, maxSeconds: lateMax },
      links: [...links.values()].map((l) => ({
        source: l.from,
        target: l.to,
        port: l.port,
        properties: l.shaper.properties,
        counters: { bytes: l.bytes, packets: l.packets, dropped: { ...l.dropped } },
        queueDelay: l.shaper.backlog(now),
      })),
    };
  };

  const app: FastifyInstance = Fastify({ logger: false });
  app.get('/healthz', async () => ({ ok: true }));
  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', registry.contentType);
    return registry.metrics();
  });
  app.get('/api/v1/links', async () => report());
  const change = async (req: { params: unknown; body: unknown }, reply: { code(n: number): unknown }) => {
    const { source, target } = req.params as { source: string; target: string };
    const link = links.get(linkKey(source, target));
    if (!link) {
      reply.code(404);
      return { error: `no link ${linkKey(source, target)} in lab ${plan.name}` };
    }
    const parsed = linkPropertiesPatchSchema.safeParse(req.body ?? {});
    if (!parsed.success) {
      reply.code(400);
      return { error: parsed.error.issues.map((i) => `${formatPath(i.path)}: ${i.message}`).join('; ') };
    }
    const props = link.shaper.update(parsed.data as LinkPropertiesPatch);
    setGauges(link);
    log.info({ link: linkKey(source, target), properties: props }, 'link changed');
    return report().links.find((l) => l.source === source && l.target === target);
  };
  app.put('/api/v1/links/:source/:target', change);
  app.post('/api/v1/links/:source/:target', change);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address();
  const httpPort = typeof addr === 'object' && addr ? addr.port : 0;

  const info: EmulatorInfo = {
    pid: process.pid,
    httpPort,
    address: plan.emulatorAddress,
    ports: Object.fromEntries([...links.entries()].map(([k, l]) => [k, l.port])),
  };
  log.info({ httpPort, links: links.size }, 'emulator ready');

  return {
    info,
    report,
    async close() {
      timer.close();
      await probe.close();
      for (const l of links.values()) l.socket.close();
      for (const s of outSockets.values()) s.close();
      await app.close();
    },
  };
}
