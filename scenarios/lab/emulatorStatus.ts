// The emulator's lines of `lpm lab status`: its threads, its receive latency, and its own timing
// errors (how late packets leave, what a probe through it sees), over the last ~10 s and since
// the start. Pure.
import { formatDuration } from '../../src/units.js';
import type { EmulatorReport, EmulatorTiming } from './emulator.js';

const us = (s: number | undefined) => (s === undefined ? '-' : formatDuration(s));

function timingLine(t: EmulatorTiming): string {
  const l = t.lateness;
  const p = t.probe;
  const late = l.packets > 0 ? `packets left late by p50 ${us(l.p50Seconds)}, p99 ${us(l.p99Seconds)}, max ${us(l.maxSeconds)} (${l.packets} packets)` : 'no packets';
  const probe =
    p.probes > 0
      ? `; probe error p1 ${us(p.p1Seconds)}, p99 ${us(p.p99Seconds)}, ${((p.within200us ?? 0) * 100).toFixed(1)} % within ±0.2 ms`
      : '';
  return late + probe;
}

export function emulatorStatusLines(r: EmulatorReport): string[] {
  const lanes = r.lanes ?? [];
  const est = lanes.map((l) => l.receiveLatencySeconds).filter((x) => x > 0);
  const lines = [
    `  emulator: ${lanes.length} lane(s) (a receiving and a sending thread each); receive latency ` +
      (est.length ? `${formatDuration(Math.min(...est))}-${formatDuration(Math.max(...est))}` : formatDuration(r.receiveLatencySeconds)) +
      ` (${r.compensate ? 'compensated' : 'not compensated'})` +
      (r.idlePollers ? `; ${r.idlePollers} idle-priority pollers keep idle CPUs awake` : ''),
  ];
  if (r.recent) lines.push(`  emulator timing, last ${r.recent.seconds} s: ${timingLine(r.recent)}`);
  lines.push(`  emulator timing since start: ${timingLine(r)}`);
  return lines;
}
