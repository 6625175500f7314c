// A sending thread of the link emulator, one per lane: takes every packet out of its lane's link
// rings (packetRing.ts) when it is due and sends it to the target node's VXLAN port. It sleeps in
// the kernel until the next due time (Atomics.wait: a futex with a microsecond timeout, unlike
// Node's millisecond timers), woken early by its lane when a packet due sooner arrives. It asks to
// be woken a little before the due time (by how late 99 % of its recent wake-ups were) and waits
// out the rest spinning, within a CPU budget shared by all senders; past the budget it sleeps to
// the due time and the packet leaves as late as the wake-up. Sends are synchronous (connected
// sockets, no callback). It also sends its lane a timestamped probe every 50 ms
// (receiveLatency.ts) and times the probes' departure like packets' (the probe error).
import dgram from 'node:dgram';
import { readlinkSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { CTL, PROBE_DELAY_MS, SharedViews, SpinBudget, type SharedBuffers } from './emulatorShared.js';
import type { SharedHistogram } from './latencyHistogram.js';
import { PacketRing, type PacketRingBuffers } from './packetRing.js';
import { monotonicMs, PROBE_INTERVAL_MS } from './receiveLatency.js';

export interface SenderData {
  /** The lane whose rings this thread empties. */
  lane: number;
  shared: SharedBuffers;
  /** Address the sending sockets bind to (the emulator's underlay address). */
  address: string;
  vxlanPort: number;
  nodes: Array<{ name: string; underlayAddress: string }>;
  links: Array<{ index: number; to: string; ring: PacketRingBuffers }>;
  probeRing: PacketRingBuffers;
  probePort: number;
}

export type SenderToMain = { type: 'ready'; tid?: number } | { type: 'error'; message: string; code?: string; what: string } | { type: 'closed' };

const SEND_BUFFER = 4 * 1024 * 1024;
/** A packet due this soon (ms) is sent now. */
const EARLY_MS = 0.002;
/** Bounds of the early wake-up (ms): how long before a due time the thread asks to be woken. */
const MIN_LEAD_MS = 0.02;
const MAX_LEAD_MS = 1;
/** Share of its own time one sender may spin, and the most it saves up (ms). */
const OWN_SHARE = 0.1;
const MAX_OWN_MS = 3;
/** Longest stretch (ms) without letting the thread's event loop run (messages, socket events). */
const YIELD_EVERY_MS = 20;

const turn = () => new Promise<void>((r) => setImmediate(r));

/** This thread's kernel id (from /proc/thread-self), so the main thread can raise its priority. */
function threadId(): { tid?: number } {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    return Number.isInteger(tid) && tid > 0 ? { tid } : {};
  } catch {
    return {};
  }
}

function open(socket: dgram.Socket, bindAddress: string, port: number, address: string): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind({ address: bindAddress, port: 0 }, () =>
      socket.connect(port, address, () => {
        socket.off('error', reject);
        resolve();
      }),
    );
  });
}

interface Queue {
  ring: PacketRing;
  /** undefined: a probe ring (timed, not sent). */
  out: dgram.Socket | undefined;
  histogram: SharedHistogram;
}

export async function runSender(data: SenderData, port: NonNullable<typeof parentPort>): Promise<void> {
  const views = new SharedViews(data.shared);
  const ctl = views.control;
  const wake = views.wake;
  const base = data.lane * CTL.SLOTS;
  const GEN = base + CTL.GEN;
  const me = data.lane;
  const sockets: dgram.Socket[] = [];
  const byNode = new Map<string, dgram.Socket>();
  const probes: dgram.Socket[] = [];
  const targets = new Set(data.links.map((l) => l.to));
  let what = 'UDP, sending';
  try {
    for (const n of data.nodes.filter((x) => targets.has(x.name))) {
      what = `UDP, sending to ${n.name}`;
      const s = dgram.createSocket({ type: 'udp4', sendBufferSize: SEND_BUFFER });
      sockets.push(s);
      await open(s, data.address, data.vxlanPort, n.underlayAddress);
      s.on('error', () => Atomics.add(ctl, base + CTL.SEND_ERRORS, 1));
      byNode.set(n.name, s);
    }
    what = 'UDP, probes';
    const s = dgram.createSocket('udp4');
    sockets.push(s);
    await open(s, '127.0.0.1', data.probePort, '127.0.0.1');
    probes.push(s);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    port.postMessage({ type: 'error', message: e.message, ...(e.code ? { code: e.code } : {}), what } satisfies SenderToMain);
    for (const s of sockets) s.close();
    return;
  }
  const queues: Queue[] = [
    ...data.links.map((l) => ({ ring: new PacketRing(l.ring), out: byNode.get(l.to), histogram: views.lateness(data.lane) })),
    { ring: new PacketRing(data.probeRing), out: undefined, histogram: views.probeError(data.lane) },
  ];
  let closing = false;
  port.on('message', (m: { type: string }) => {
    if (m.type === 'close') closing = true;
  });
  port.postMessage({ type: 'ready', ...threadId() } satisfies SenderToMain);

  const stamp = Buffer.alloc(8);
  // how late recent wake-ups were (ms): the next wake-up is asked for that much earlier
  const oversleep: number[] = [];
  let lead = 0.2;
  const spinBudget = new SpinBudget(data.shared);
  /** The due time whose wait the budget has paid for: until then the thread may spin. */
  let paidUntil = -Infinity;
  /** This sender's own spin budget (ms), refilled at OWN_SHARE of the time. */
  let own = MAX_OWN_MS;
  let ownAt = monotonicMs();
  let nextProbe = monotonicMs() + PROBE_INTERVAL_MS;
  let lastTurn = monotonicMs();

  while (!closing && Atomics.load(ctl, base + CTL.STOP) === 0) {
    const gen = Atomics.load(ctl, GEN);
    let now = monotonicMs();
    if (now >= nextProbe) {
      for (const s of probes) {
        stamp.writeDoubleLE(monotonicMs(), 0);
        s.send(stamp);
      }
      nextProbe = now + PROBE_INTERVAL_MS;
    }
    // everything due, earliest first across the rings (each ring is in due order)
    let next = Infinity;
    for (;;) {
      let best: Queue | undefined;
      let bestDue = Infinity;
      for (const q of queues) {
        const d = q.ring.peekDue();
        if (d < bestDue) {
          bestDue = d;
          best = q;
        }
      }
      if (!best || bestDue > now + EARLY_MS) {
        next = bestDue;
        break;
      }
      const bytes = best.ring.peek()!;
      if (best.out) {
        // lateness: when the packet is handed to the kernel, against its due time
        best.histogram.observe(Math.max(0, monotonicMs() - bestDue) / 1000);
        best.out.send(bytes);
        // A send the kernel could not take at once was queued by Node with our view of the slot:
        // let it complete before the slot can be reused.
        while (best.out.getSendQueueCount() > 0) await turn();
      } else {
        best.histogram.observe((monotonicMs() - (new DataView(bytes.buffer, bytes.byteOffset, 8).getFloat64(0, true) + PROBE_DELAY_MS)) / 1000);
      }
      best.ring.pop();
      now = monotonicMs();
    }
    const until = Math.min(next, nextProbe);
    // let the event loop run when the next departure is far enough away (or we have been busy for long)
    if (now - lastTurn >= YIELD_EVERY_MS && (until - now > 1 || now - lastTurn >= 10 * YIELD_EVERY_MS)) {
      await turn();
      lastTurn = monotonicMs();
      continue;
    }
    wake[me] = until;
    // Waiting out the last `lead` by going round the loop costs CPU: all senders together may
    // spend a quarter of one CPU on it (SpinBudget), each at most a tenth of its own time (so a
    // busy lane, whose packets are due every few µs, cannot use up what the quiet ones need for
    // their pings). A real-time thread that never sleeps is throttled by the kernel, and takes the
    // CPU from the kernel's own packet processing and from the iperf3 and ping processes the lab
    // is there for. When the budget cannot pay for the wait, the sender sleeps to the due time
    // itself and the packet leaves late by however late the wake-up is (lateness shows it). Only a
    // packet is worth it: a probe's send time is stamped into it.
    const t = monotonicMs();
    const remaining = until - t;
    own = Math.min(MAX_OWN_MS, own + (t - ownAt) * OWN_SHARE);
    ownAt = t;
    if (remaining <= lead && next <= nextProbe && paidUntil < until && own >= remaining && spinBudget.take(remaining, t)) {
      paidUntil = until;
      own -= remaining;
    }
    const spin = remaining <= lead && paidUntil >= until;
    const sleep = spin ? 0 : remaining > lead ? remaining - lead : remaining;
    if (sleep > 0) {
      const asked = t + sleep;
      if (Atomics.wait(ctl, GEN, gen, sleep) === 'timed-out') {
        oversleep.push(monotonicMs() - asked);
        if (oversleep.length >= 128) {
          const sorted = oversleep.splice(0).sort((a, b) => a - b);
          lead = Math.min(MAX_LEAD_MS, Math.max(MIN_LEAD_MS, sorted[Math.floor(sorted.length * 0.99)]! + 0.02));
        }
      }
    }
    // the rest (at most `lead`) is waited out by going round again, within the budget
    wake[me] = -Infinity;
  }
  for (const s of sockets) s.close();
  port.postMessage({ type: 'closed' } satisfies SenderToMain);
  port.close();
}

if (parentPort && (workerData as { kind?: string } | undefined)?.kind === 'sender') void runSender((workerData as { data: SenderData }).data, parentPort);
