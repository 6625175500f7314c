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
 * The RTT and bandwidth tables. `measured` undefined: no matrix yet; a missing value prints "?",
 * a missing configured one (pair not linked) "n/a".
 */
export function matrixTables(nodes: readonly string[], measured: LinkMatrix | undefined, configured: LinkMatrix): string {
  const cell = (key: LinkMetricKey, fmt: (v: number) => string) => (a: string, b: string) => {
    const m = measured?.get(a, b)?.[key];
    const c = configured.get(a, b)?.[key];
    return `${m ? fmt(m.value) : '?'} (${c ? fmt(c.value) : 'n/a'})`;
  };
  return [
    'Round-trip time, measured (configured):',
    ...table(nodes, cell('rtt_seconds', fmtMs)),
    '',
    'Bandwidth, measured (configured):',
    ...table(nodes, cell('bandwidth_bytes_per_second', fmtMbps)),
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
