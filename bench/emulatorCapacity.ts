// The lab emulator's capacity on this machine: the aggregate Mbit/s it carries while it keeps up
// with its schedule, i.e. its packets' lateness stays under 0.2 ms. A real lab (namespaces, VXLAN,
// the emulator process at real-time priority as `lab up` starts it) with three node pairs: iperf3
// TCP over one pair's link (series "1 link") or over two pairs' links at once ("2 links"), at
// rising configured rates, while the third pair pings over its own link (the bystander). Per step,
// from the emulator's own histograms (the difference over the step): how late packets left (mean,
// p90, p99) and the error of its probes (the share within ±0.2 ms, which includes the receive
// side); plus the goodput against the rate and how far the bystander's RTT moved from idle.
// A step passes when the mean and the 90th percentile of the lateness are within 0.2 ms (the
// emulator keeps up with its schedule) and the goodput within 10 % of the rate (the machine keeps
// up with the traffic). (The 99th percentile is shown, not judged: on a virtual machine a thread
// woken from idle is now and then milliseconds late whatever the emulator does, so it measures
// the machine.) The capacity of a series is the configured rate of the loaded links together at
// its highest step that passed with every step below it.
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import type { EmulatorReport } from '../scenarios/lab/emulator.js';
import { capacityFile } from '../scenarios/lab/capacity.js';
import { netnsCapability } from '../scenarios/lab/ip.js';
import { emulatorUrl, labDown, labSet, labUpTopology } from '../scenarios/lab/lab.js';
import { fractionWithin, histogramDiff, histogramQuantile } from '../scenarios/lab/latencyHistogram.js';
import type { LabState } from '../scenarios/lab/state.js';
import { topologySchema, type Topology } from '../scenarios/topology.js';

export interface EmulatorStep {
  series: '1 link' | '2 links';
  /** Configured rate of each loaded link. */
  rateMbps: number;
  /** iperf3 goodput, all flows together, and what the rate allows (rate x 1398/1472 per flow). */
  goodputMbps: number;
  expectedMbps: number;
  /** Everything the emulator forwarded during the test (data and ACKs, every link), Mbit/s. */
  carriedMbps: number;
  latenessMeanUs?: number;
  latenessP90Us?: number;
  latenessP99Us?: number;
  probeP1Us?: number;
  probeP99Us?: number;
  /** Share of probes within ±0.2 ms of their schedule. */
  probeWithin200us?: number;
  /** The bystander pair's mean ping RTT, idle right before the step and during the test (ms). */
  bystanderIdleMs?: number;
  bystanderLoadedMs?: number;
  passed: boolean;
}

export interface EmulatorCapacityResult {
  skipped?: string;
  measuredAt?: string;
  /** 1-minute load average at the start of this part. */
  loadAverage?: number;
  lanes?: number;
  testSeconds?: number;
  steps?: EmulatorStep[];
  /** The commit measured, when an --emulator-only run put this part into an older result. */
  commit?: string;
  dirty?: boolean;
  /** Configured Mbit/s at the highest passing step (see above), the larger of the two series; absent when none passed. */
  capacityMbps?: number;
  /** The same per series: one link alone, and two links loaded at once. */
  capacityOneLinkMbps?: number;
  capacityTwoLinksMbps?: number;
  targets?: Array<{ target: string; measured: string; met: boolean }>;
}

export interface EmulatorCapacityOptions {
  oneLink: number[];
  twoLinks: number[];
  testSeconds: number;
  /**
   * Write the capacity to this machine's file for `lab up` (a full run only: a quick run's few low
   * steps would record a capacity far below the machine's).
   */
  recordCapacity: boolean;
}

// the lab's name: 1-8 characters; the PID keeps two bench runs on one machine apart
const LAB = `bc${process.pid % 1_000_000}`;
const GOODPUT = 1398 / 1472;
const LIMIT = 200e-6;

const topology = (maxMbps: number): Topology =>
  topologySchema.parse({
    name: LAB,
    nodes: ['a', 'b', 'c', 'd', 'e', 'f'],
    // the loaded links start at the highest rate so the emulator gives them lanes of their own,
    // as it would for a topology that fast; each step then sets the rate it measures
    links: [
      { from: 'a', to: 'b', delay: '1ms', rate: `${maxMbps}Mbps` },
      { from: 'c', to: 'd', delay: '1ms', rate: `${maxMbps}Mbps` },
      { from: 'e', to: 'f', delay: '2ms', rate: '10Mbps' },
    ],
  });

async function report(state: LabState): Promise<EmulatorReport> {
  const res = await fetch(`${emulatorUrl(state)}/api/v1/emulated-links`, { signal: AbortSignal.timeout(5000) });
  return (await res.json()) as EmulatorReport;
}

const ns = (node: string) => `lpm-${LAB}-${node}`;
const addr = (state: LabState, node: string) => state.plan.nodes.find((n) => n.name === node)!.overlayAddress;

async function pingAvgMs(state: LabState, from: string, to: string, count: number): Promise<number | undefined> {
  const r = await execa('ip', ['netns', 'exec', ns(from), 'ping', '-n', '-q', '-c', String(count), '-i', '0.05', addr(state, to)], { reject: false, timeout: 60_000 });
  const m = /= [\d.]+\/([\d.]+)\//.exec(String(r.stdout));
  return m ? Number(m[1]) : undefined;
}

async function iperf(state: LabState, from: string, to: string, seconds: number, port: number): Promise<number> {
  const server = execa('ip', ['netns', 'exec', ns(to), 'iperf3', '-s', '-1', '-p', String(port), '-B', addr(state, to)], { reject: false, timeout: (seconds + 30) * 1000 });
  try {
    await sleep(300);
    const r = await execa(
      'ip',
      ['netns', 'exec', ns(from), 'iperf3', '-c', addr(state, to), '-p', String(port), '-t', String(seconds), '-O', '1', '-J', '--connect-timeout', '3000'],
      { reject: false, timeout: (seconds + 20) * 1000 },
    );
    const j = JSON.parse(String(r.stdout || '{}')) as { end?: { sum_received?: { bits_per_second?: number } } };
    return (j.end?.sum_received?.bits_per_second ?? 0) / 1e6;
  } finally {
    server.kill();
    await server.catch(() => undefined);
  }
}

async function step(state: LabState, series: EmulatorStep['series'], rateMbps: number, seconds: number): Promise<EmulatorStep> {
  const pairs: Array<[string, string]> = series === '1 link' ? [['a', 'b']] : [['a', 'b'], ['c', 'd']];
  for (const [x, y] of pairs) await labSet(LAB, { from: x, to: y, raw: { rate: `${rateMbps}Mbps` }, patch: { rate: (rateMbps * 1e6) / 8 } }, true);
  const bystanderIdleMs = await pingAvgMs(state, 'e', 'f', 20);
  const before = await report(state);
  const t0 = performance.now();
  const flows = pairs.map(([x, y], i) => iperf(state, x, y, seconds, 5301 + i));
  // the bystander pings while the flows are past their start
  const loaded = sleep(1500).then(() => pingAvgMs(state, 'e', 'f', Math.max(10, Math.floor(((seconds - 1) * 1000) / 50))));
  const goodput = (await Promise.all(flows)).reduce((s, x) => s + x, 0);
  // what the emulator carried while the flows ran (not while the bystander's last pings finish)
  const elapsed = (performance.now() - t0) / 1000;
  const after = await report(state);
  const bystanderLoadedMs = await loaded;
  const lateness = histogramDiff(before.histograms.lateness, after.histograms.lateness);
  const probe = histogramDiff(before.histograms.probe, after.histograms.probe);
  const bytes = after.links.reduce((s, l) => s + l.counters.bytes, 0) - before.links.reduce((s, l) => s + l.counters.bytes, 0);
  const late = histogramQuantile(lateness, 0.99);
  const within = fractionWithin(probe, -LIMIT, LIMIT);
  const us = (x: number | undefined) => (x === undefined ? undefined : Math.round(x * 1e6));
  return {
    series,
    rateMbps,
    goodputMbps: goodput,
    expectedMbps: rateMbps * GOODPUT * pairs.length,
    carriedMbps: (bytes * 8) / 1e6 / elapsed,
    ...(lateness.count ? { latenessMeanUs: us(lateness.sum / lateness.count)!, latenessP90Us: us(histogramQuantile(lateness, 0.9))! } : {}),
    ...(late !== undefined ? { latenessP99Us: us(late)! } : {}),
    ...(probe.count ? { probeP1Us: us(histogramQuantile(probe, 0.01))!, probeP99Us: us(histogramQuantile(probe, 0.99))! } : {}),
    ...(within !== undefined ? { probeWithin200us: within } : {}),
    ...(bystanderIdleMs !== undefined ? { bystanderIdleMs } : {}),
    ...(bystanderLoadedMs !== undefined ? { bystanderLoadedMs } : {}),
    passed:
      lateness.count > 0 &&
      histogramQuantile(lateness, 0.9)! <= LIMIT &&
      lateness.sum / lateness.count <= LIMIT &&
      Math.abs(goodput / (rateMbps * GOODPUT * pairs.length) - 1) <= 0.1,
  };
}

function targetsOf(steps: EmulatorStep[]): NonNullable<EmulatorCapacityResult['targets']> {
  const out: NonNullable<EmulatorCapacityResult['targets']> = [];
  const at400 = steps.find((s) => s.series === '1 link' && s.rateMbps === 400);
  if (at400)
    out.push({
      target: 'one 400 Mbit/s link reads within 10 % (iperf3 goodput vs rate x 1398/1472)',
      measured: `${(at400.goodputMbps / at400.expectedMbps).toFixed(3)} of ${at400.expectedMbps.toFixed(0)} Mbit/s`,
      met: Math.abs(at400.goodputMbps / at400.expectedMbps - 1) <= 0.1,
    });
  const near350 = steps.filter((s) => s.series === '1 link' && s.goodputMbps >= 330 && s.bystanderIdleMs !== undefined && s.bystanderLoadedMs !== undefined);
  const w = near350.sort((a, b) => a.goodputMbps - b.goodputMbps)[0];
  if (w) {
    const shift = w.bystanderLoadedMs! - w.bystanderIdleMs!;
    out.push({
      target: "a ~350 Mbit/s test on one link moves another link's RTT by < 0.3 ms",
      measured: `${shift >= 0 ? '+' : ''}${shift.toFixed(2)} ms at ${w.goodputMbps.toFixed(0)} Mbit/s`,
      met: Math.abs(shift) < 0.3,
    });
  }
  return out;
}

/**
 * The capacity of a series: the configured rate of its loaded links together (what a topology
 * file asks for, and what `lab up` compares it with) at its highest passing step, every lower step
 * passing too. A lower bound when the series' highest step passed.
 */
export function capacityOf(steps: readonly EmulatorStep[], series: EmulatorStep['series']): number | undefined {
  let best: number | undefined;
  for (const s of steps.filter((x) => x.series === series).sort((a, b) => a.rateMbps - b.rateMbps)) {
    if (!s.passed) break;
    best = s.rateMbps * (series === '1 link' ? 1 : 2);
  }
  return best;
}

export async function runEmulatorCapacity(opts: EmulatorCapacityOptions, log: (line: string) => void = () => undefined): Promise<EmulatorCapacityResult> {
  const cap = await netnsCapability();
  if (!cap.ok) return { skipped: cap.reason };
  const measuredAt = new Date().toISOString();
  const loadAverage = Math.round(os.loadavg()[0]! * 100) / 100;
  const max = Math.max(...opts.oneLink, ...opts.twoLinks);
  await labDown(LAB).catch(() => undefined);
  const steps: EmulatorStep[] = [];
  let lanes: number | undefined;
  try {
    const state = await labUpTopology(topology(max), `bench ${LAB}`, {});
    lanes = (await report(state)).lanes.length;
    await pingAvgMs(state, 'e', 'f', 5); // ARP, warm-up
    for (const [series, rates] of [['1 link', opts.oneLink], ['2 links', opts.twoLinks]] as const)
      for (const rate of rates) {
        const s = await step(state, series, rate, opts.testSeconds);
        steps.push(s);
        log(
          `  emulator ${series} at ${rate} Mbit/s: goodput ${s.goodputMbps.toFixed(0)}/${s.expectedMbps.toFixed(0)}, carried ${s.carriedMbps.toFixed(0)} Mbit/s, ` +
            `lateness mean ${s.latenessMeanUs ?? '-'} p90 ${s.latenessP90Us ?? '-'} p99 ${s.latenessP99Us ?? '-'} µs, probes within ±0.2 ms ${((s.probeWithin200us ?? 0) * 100).toFixed(1)} %, ` +
            `bystander RTT ${s.bystanderIdleMs?.toFixed(2) ?? '-'} -> ${s.bystanderLoadedMs?.toFixed(2) ?? '-'} ms${s.passed ? '' : ' (over)'}`,
        );
      }
  } finally {
    await labDown(LAB).catch(() => undefined);
  }
  const one = capacityOf(steps, '1 link');
  const two = capacityOf(steps, '2 links');
  const capacityMbps = one === undefined && two === undefined ? undefined : Math.max(one ?? 0, two ?? 0);
  const result: EmulatorCapacityResult = {
    measuredAt,
    loadAverage,
    ...(lanes !== undefined ? { lanes } : {}),
    testSeconds: opts.testSeconds,
    steps,
    ...(capacityMbps !== undefined ? { capacityMbps } : {}),
    ...(one !== undefined ? { capacityOneLinkMbps: one } : {}),
    ...(two !== undefined ? { capacityTwoLinksMbps: two } : {}),
    targets: targetsOf(steps),
  };
  // what `lab up` compares topologies with, on this machine
  if (capacityMbps !== undefined && opts.recordCapacity)
    await writeFile(
      capacityFile(),
      `${JSON.stringify({ mbps: one ?? capacityMbps, ...(two !== undefined ? { concurrentMbps: two } : {}), measuredAt, loadAverage }, null, 2)}\n`,
    ).catch(() => undefined);
  return result;
}
