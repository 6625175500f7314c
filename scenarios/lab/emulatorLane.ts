// One receiving thread ("lane") of the link emulator: the UDP sockets of a group of directed links
// (linkGroups.ts). For every datagram it applies the link's loss and rate limiter and delay
// (LinkShaper), dating the arrival back by the lane's measured receive latency, and queues the
// datagram with its due time in the link's ring (packetRing.ts); the lane's own sending thread
// (emulatorSender.ts) sends it when it is due. It never sleeps on a timer and never polls: an idle
// lane waits in the kernel for its next datagram. Probes from its sending thread measure the
// lane's receive latency, and go back through a ring of their own so their departure is timed
// like a packet's (the probe error: what a ping through this lane would see).
import dgram from 'node:dgram';
import { parentPort, workerData } from 'node:worker_threads';
import type { LinkProperties, LinkPropertiesPatch } from '../topology.js';
import { LINK, LANE, PROBE_DELAY_MS, SharedViews, type LaneLink, type SharedBuffers, CTL } from './emulatorShared.js';
import { LinkShaper } from './linkShaper.js';
import { PacketRing, type PacketRingBuffers } from './packetRing.js';
import { monotonicMs, ReceiveLatencyProbe } from './receiveLatency.js';

export interface LaneData {
  lane: number;
  /** Address the link sockets bind to (the emulator's underlay address). */
  address: string;
  /** Date arrivals back by the measured receive latency. */
  compensate: boolean;
  links: Array<LaneLink & { properties: LinkProperties }>;
  /** Probes go out through this ring (due = arrival + PROBE_DELAY_MS, payload = the probe's stamp). */
  probeRing: PacketRingBuffers;
  shared: SharedBuffers;
}

export type LaneToMain =
  | { type: 'ready'; ports: Record<number, number>; probePort: number }
  | { type: 'error'; message: string; code?: string; what: string };

export type MainToLane = { type: 'update'; index: number; patch: LinkPropertiesPatch } | { type: 'close' };

const RECV_BUFFER = 4 * 1024 * 1024;

function bind(socket: dgram.Socket, address: string): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind({ address, port: 0 }, () => {
      socket.off('error', reject);
      resolve();
    });
  });
}

export async function runLane(data: LaneData, port: NonNullable<typeof parentPort>): Promise<void> {
  const views = new SharedViews(data.shared);
  const stats = views.links;
  const laneBase = data.lane * LANE.SLOTS;
  const latency = new ReceiveLatencyProbe();
  const probeRing = new PacketRing(data.probeRing);
  const sockets: dgram.Socket[] = [];
  const ports: Record<number, number> = {};
  const shapers = new Map<number, LinkShaper>();
  const wake = views.wake;
  const ctl = views.control;

  const gen = data.lane * CTL.SLOTS + CTL.GEN;
  /** After a push: the lane's sender re-reads the rings before it sleeps; wake it if it sleeps past `due`. */
  const kick = (due: number) => {
    Atomics.add(ctl, gen, 1);
    if (due < wake[data.lane]!) Atomics.notify(ctl, gen);
  };

  let what = 'UDP, probe';
  try {
    const probe = dgram.createSocket({ type: 'udp4', recvBufferSize: 1 << 16 });
    sockets.push(probe);
    await bind(probe, '127.0.0.1');
    const stamp = new Uint8Array(8);
    probe.on('message', (buf) => {
      if (buf.length !== 8) return;
      const now = monotonicMs();
      const sent = buf.readDoubleLE(0);
      latency.add(now - sent);
      views.lanes[laneBase + LANE.RECEIVE_ESTIMATE_MS] = latency.estimate;
      views.lanes[laneBase + LANE.RECEIVE_SAMPLES] = latency.count;
      // the probe leaves like a packet of a 1 ms link would; the sender compares with `sent`
      stamp.set(buf.subarray(0, 8));
      const due = (data.compensate ? now - latency.estimate : now) + PROBE_DELAY_MS;
      if (probeRing.push(due, stamp)) kick(due);
    });

    for (const l of data.links) {
      what = `UDP, link ${l.from}->${l.to}`;
      const shaper = new LinkShaper(l.properties);
      shapers.set(l.index, shaper);
      const ring = new PacketRing(l.ring);
      const base = l.index * LINK.SLOTS;
      const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: RECV_BUFFER });
      sockets.push(socket);
      await bind(socket, data.address);
      ports[l.index] = socket.address().port;
      socket.on('message', (buf) => {
        const now = monotonicMs();
        // The packet reached the kernel before this handler ran: date it back by the measured
        // wake-up latency, so that latency is not added to the link's delay.
        const arrival = data.compensate ? now - latency.estimate : now;
        stats[base + LINK.BYTES] = stats[base + LINK.BYTES]! + buf.length;
        stats[base + LINK.PACKETS] = stats[base + LINK.PACKETS]! + 1;
        const v = shaper.admit(arrival / 1000, buf.length);
        stats[base + LINK.FREE_AT] = shaper.freeAt;
        if ('drop' in v) {
          const f = v.drop === 'loss' ? LINK.DROP_LOSS : LINK.DROP_QUEUE;
          stats[base + f] = stats[base + f]! + 1;
          return;
        }
        const due = v.due * 1000;
        // a full ring is a full queue
        if (!ring.push(due, buf)) stats[base + LINK.DROP_QUEUE] = stats[base + LINK.DROP_QUEUE]! + 1;
        else kick(due);
      });
      socket.on('error', () => undefined); // a receiving socket has nothing to report: the sender counts send errors
    }
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    port.postMessage({ type: 'error', message: e.message, ...(e.code ? { code: e.code } : {}), what } satisfies LaneToMain);
    for (const s of sockets) s.close();
    return;
  }

  port.on('message', (m: MainToLane) => {
    if (m.type === 'update') {
      const shaper = shapers.get(m.index);
      if (shaper) shaper.update(m.patch);
    } else if (m.type === 'close') {
      for (const s of sockets) s.close();
      port.close();
    }
  });
  port.postMessage({ type: 'ready', ports, probePort: sockets[0]!.address().port } satisfies LaneToMain);
}

if (parentPort && (workerData as { kind?: string } | undefined)?.kind === 'lane') void runLane((workerData as { data: LaneData }).data, parentPort);
