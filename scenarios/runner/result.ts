// What a scenario run produces, and its plain-text rendering (progress goes to stderr as it
// happens; this summary goes to stdout at the end).
import type { Topology } from '../topology.js';
import type { ScenarioMode } from '../scenarioFile.js';
import type { Placement } from './driver.js';
import type { ExpectationResult } from './expectations.js';
import type { PlacementName } from './variants.js';

/** Lab mode: the workload measured on one placement. */
export interface WorkloadMeasurement {
  requests: number;
  errors: number;
  /** Seconds. */
  p50: number;
  p95: number;
  mean: number;
  /** Bytes that crossed emulated links (all directions) during the measured time. */
  interNodeBytes: number;
  /** interNodeBytes / requests: the fair comparison when placements complete different numbers. */
  bytesPerRequest: number;
  /** Per directed link with traffic: "a->b" -> bytes. */
  linkBytes: Record<string, number>;
  /** Calls whose two pods are on different nodes / all calls, per request. */
  remoteCalls: number;
  calls: number;
  seconds: number;
  /** `--repeat N` (N > 1): every repetition; the fields above are then their medians. */
  repeats?: WorkloadMeasurement[];
}

export interface ScenarioResult {
  name: string;
  file: string;
  mode: ScenarioMode;
  startedAt: string;
  durationSeconds: number;
  topology: Topology;
  /** The placements, lpm first. */
  placements: Array<{ name: PlacementName; placements: Placement[]; measurement?: WorkloadMeasurement; skipped?: string }>;
  /** Checked against the lpm placement. */
  expectations: ExpectationResult[];
  ok: boolean;
  /** Traffic calls (pod ids), for drawing. */
  calls: Array<[string, string]>;
  notes: string[];
  /** Lab mode through the lab's kube-schedulers: their version ("v1.26.1"); absent when the runner called the extender itself. */
  kubeScheduler?: string;
  /** Lab mode: measured repetitions per placement (--repeat). */
  repeat?: number;
}

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** One measurement from the repetitions: the medians, and every repetition in `repeats`. */
export function aggregateMeasurements(ms: readonly WorkloadMeasurement[]): WorkloadMeasurement {
  if (ms.length === 0) throw new Error('no measurement');
  if (ms.length === 1) return ms[0]!;
  const med = (f: (m: WorkloadMeasurement) => number) => median(ms.map(f));
  const links = new Set(ms.flatMap((m) => Object.keys(m.linkBytes)));
  return {
    requests: Math.round(med((m) => m.requests)),
    errors: Math.round(med((m) => m.errors)),
    p50: med((m) => m.p50),
    p95: med((m) => m.p95),
    mean: med((m) => m.mean),
    interNodeBytes: Math.round(med((m) => m.interNodeBytes)),
    bytesPerRequest: Math.round(med((m) => m.bytesPerRequest)),
    linkBytes: Object.fromEntries([...links].map((l) => [l, Math.round(median(ms.map((m) => m.linkBytes[l] ?? 0)))])),
    remoteCalls: Math.round(med((m) => m.remoteCalls)),
    calls: ms[0]!.calls,
    seconds: ms[0]!.seconds,
    repeats: [...ms],
  };
}

/** The progress line of one measurement. */
export function describeMeasurement(name: string, m: WorkloadMeasurement): string {
  return `  ${name}: ${m.requests} requests, p50 ${(m.p50 * 1000).toFixed(1)} ms, p95 ${(m.p95 * 1000).toFixed(1)} ms, ${m.interNodeBytes} inter-node bytes`;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n';
}

const ms = (s: number) => `${(s * 1000).toFixed(1)} ms`;
const kib = (b: number) => (b >= 1024 * 1024 ? `${(b / 1024 / 1024).toFixed(2)} MiB` : `${(b / 1024).toFixed(1)} KiB`);

/** "-37%" of a against b. */
export function change(a: number, b: number): string {
  if (!(b > 0)) return 'n/a';
  const pct = ((a - b) / b) * 100;
  return `${pct >= 0 ? '+' : ''}${pct.toFixed(0)}%`;
}

/** The A/B table of a lab run (Markdown-compatible). */
export function measurementTable(r: ScenarioResult): string | undefined {
  const measured = r.placements.filter((p) => p.measurement);
  if (!measured.length) return undefined;
  const nm = r.placements.find((p) => p.name === 'netmarks')?.measurement;
  const df = r.placements.find((p) => p.name === 'default')?.measurement;
  const rows = [['placement', 'requests', 'errors', 'p50', 'p95', 'inter-node bytes/request', 'remote calls', 'p95 vs netmarks', 'p95 vs default', 'bytes/request vs default']];
  for (const p of measured) {
    const m = p.measurement!;
    // with repetitions: the median, and min–max of the repetitions
    const range = (f: (x: WorkloadMeasurement) => number, fmt: (v: number) => string) => {
      const v = fmt(f(m));
      if (!m.repeats || m.repeats.length < 2) return v;
      const xs = m.repeats.map(f);
      return `${v} (${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))})`;
    };
    rows.push([
      p.name,
      range((x) => x.requests, String),
      range((x) => x.errors, String),
      range((x) => x.p50, ms),
      range((x) => x.p95, ms),
      range((x) => x.bytesPerRequest, kib),
      `${m.remoteCalls}/${m.calls}`,
      nm ? change(m.p95, nm.p95) : 'n/a',
      df ? change(m.p95, df.p95) : 'n/a',
      df ? change(m.bytesPerRequest, df.bytesPerRequest) : 'n/a',
    ]);
  }
  return markdownTable(rows);
}

export function markdownTable(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(3, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(rows[0]!), `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`, ...rows.slice(1).map(line)].join('\n') + '\n';
}

export function formatResult(r: ScenarioResult): string {
  const out: string[] = [];
  out.push(`scenario ${r.name} (${r.file}), mode ${r.mode}: ${r.ok ? 'PASS' : 'FAIL'} in ${r.durationSeconds.toFixed(1)}s`);
  const pods = r.placements[0]?.placements.map((p) => p.pod) ?? [];
  const rows = [['pod', ...r.placements.map((p) => p.name)]];
  for (const [i, pod] of pods.entries())
    rows.push([
      pod,
      ...r.placements.map((p) => {
        const x = p.placements[i];
        return x ? (x.node ?? 'unschedulable') + (x.preplaced ? ' (fixed)' : '') : '-';
      }),
    ]);
  out.push(table(rows).trimEnd().replace(/^/gm, '  '));
  if (r.kubeScheduler) out.push(`  placed by the lab's kube-schedulers (kube-scheduler ${r.kubeScheduler}): default-scheduler, lpm-scheduler + lpm extender`);
  const mt = measurementTable(r);
  if (mt) {
    if (r.repeat && r.repeat > 1) out.push(`  ${r.repeat} repetitions per placement: median (min–max)`);
    out.push(mt.trimEnd().replace(/^/gm, '  '));
  }
  for (const p of r.placements) if (p.skipped) out.push(`  ${p.name}: ${p.skipped}`);
  for (const e of r.expectations) out.push(`  ${e.ok ? 'ok  ' : 'FAIL'} expect ${e.text}${e.ok ? '' : `: ${e.detail}`}`);
  if (!r.expectations.length) out.push('  (no expectations)');
  for (const n of r.notes) out.push(`  note: ${n}`);
  return out.join('\n') + '\n';
}
