// Text tables of the link matrix for the terminal: each cell is the measured value with the
// configured one in parentheses, so the emulated links can be checked at a glance. Pure.
import type { LinkMatrix } from '../../src/linkMatrix.js';
import type { LinkMetricKey } from '../../src/linkMetrics.js';

export const fmtMs = (s: number) => `${(s * 1000).toFixed(s < 0.01 ? 2 : 1)} ms`;
export const fmtMbps = (bytesPerSecond: number) => `${((bytesPerSecond * 8) / 1e6).toFixed(1)} Mb/s`;

function table(nodes: readonly string[], cell: (a: string, b: string) => string): string[] {
  const rows = nodes.map((a) => [a, ...nodes.map((b) => (a === b ? '-' : cell(a, b)))]);
  const header = ['from \\ to', ...nodes];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => '  ' + r.map((c, i) => c.padEnd(widths[i]!)).join('   ').trimEnd();
  return [line(header), ...rows.map(line)];
}

/**
 * TCP goodput over an emulated link, as a share of its rate: a full segment carries 1398 payload
 * bytes in 1472 bytes of VXLAN payload, which is what the emulator's rate counts.
 */
export const VXLAN_GOODPUT = 1398 / 1472;

/** Whether a measured value is what the configured one leads to expect: RTT within max(0.5 ms, 5 %), bandwidth within 10 % of rate x VXLAN_GOODPUT. */
export function withinTolerance(key: LinkMetricKey, measured: number, configured: number): boolean {
  if (key === 'rtt_seconds') return Math.abs(measured - configured) <= Math.max(0.0005, 0.05 * configured);
  if (key === 'bandwidth_bytes_per_second') return Math.abs(measured / (configured * VXLAN_GOODPUT) - 1) <= 0.1;
  return true;
}

/**
 * The RTT and bandwidth tables. `measured` undefined: no matrix yet; a missing value prints "?",
 * a missing configured one (pair not linked) "n/a"; a measured value outside the tolerance
 * (withinTolerance) is marked "!". A last line counts the pairs within it.
 */
export function matrixTables(nodes: readonly string[], measured: LinkMatrix | undefined, configured: LinkMatrix): string {
  const count = { rtt_seconds: [0, 0], bandwidth_bytes_per_second: [0, 0] } as Record<string, [number, number]>;
  const cell = (key: LinkMetricKey, fmt: (v: number) => string) => (a: string, b: string) => {
    const m = measured?.get(a, b)?.[key];
    const c = configured.get(a, b)?.[key];
    let mark = '';
    if (m && c) {
      const ok = withinTolerance(key, m.value, c.value);
      count[key]![0] += ok ? 1 : 0;
      count[key]![1]++;
      if (!ok) mark = '!';
    }
    return `${m ? fmt(m.value) : '?'}${mark} (${c ? fmt(c.value) : 'n/a'})`;
  };
  const rtt = table(nodes, cell('rtt_seconds', fmtMs));
  const bw = table(nodes, cell('bandwidth_bytes_per_second', fmtMbps));
  const [rOk, rAll] = count.rtt_seconds!;
  const [bOk, bAll] = count.bandwidth_bytes_per_second!;
  return [
    'Round-trip time, measured (configured):',
    ...rtt,
    '',
    'Bandwidth, measured (configured):',
    ...bw,
    '',
    `Within tolerance: RTT ${rOk}/${rAll} pairs (max(0.5 ms, 5 %)), bandwidth ${bOk}/${bAll} pairs (10 % of the rate less 5 % VXLAN overhead)` +
      (rOk < rAll || bOk < bAll ? '; "!" marks the others' : ''),
  ].join('\n');
}

/** Sim mode: the extender serves the configured values, so one value per cell. */
export function configuredTables(nodes: readonly string[], configured: LinkMatrix): string {
  const cell = (key: LinkMetricKey, fmt: (v: number) => string) => (a: string, b: string) => {
    const c = configured.get(a, b)?.[key];
    return c ? fmt(c.value) : 'n/a';
  };
  return [
    'Round-trip time, configured (sim mode serves these as the measurements):',
    ...table(nodes, cell('rtt_seconds', fmtMs)),
    '',
    'Bandwidth, configured (sim mode serves these as the measurements):',
    ...table(nodes, cell('bandwidth_bytes_per_second', fmtMbps)),
  ].join('\n');
}
