// The benchmark tables of docs/benchmarks.md, generated from a BenchResult (bench/results/latest.json):
// a pure function from the JSON to Markdown, so the numbers in the docs are always the ones a run
// wrote, with the run's date, commit and machine. `npm run bench` rewrites the part of the doc
// between the two markers after a full run; `npm run bench -- --doc-only` regenerates it from the
// JSON without measuring; test/unit/bench-doc-tables.test.ts checks the doc matches the JSON.
import { readFile, writeFile } from 'node:fs/promises';
import type { EmulatorStep } from './emulatorCapacity.js';
import type { BenchResult } from './reporter.js';

export const DOC_BEGIN = '<!-- bench-results:begin -->';
export const DOC_END = '<!-- bench-results:end -->';

const f = (v: number, digits = 2) => (Number.isFinite(v) ? v.toFixed(digits) : String(v));
const n0 = (v: number) => (Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : String(v));
const size = (b: number) => (b >= 1024 * 1024 ? `${f(b / 1024 / 1024, 1)} MiB` : `${f(b / 1024, 1)} KiB`);

function table(head: string[], rows: string[][]): string {
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

/** "commit 1a2b3c4", "commit 1a2b3c4 with uncommitted changes", or "commit not recorded". */
export function commitText(machine: { commit?: string; dirty?: boolean }): string {
  if (!machine.commit) return 'commit not recorded';
  return machine.dirty ? `commit ${machine.commit} with uncommitted changes` : `commit ${machine.commit}`;
}

/** One line: when, at which commit, on what, and how loaded the machine was. */
export function runLine(r: BenchResult): string {
  const m = r.machine;
  return (
    `Run ${m.date}, ${commitText(m)}, ${r.profile} profile: ${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB, ` +
    `node ${m.node}, ${m.platform}, load average ${m.loadAverage} at start; whole run ${f(r.durationSeconds, 0)} s.`
  );
}

export function httpTable(r: BenchResult): string {
  return table(
    ['nodes', 'peers', 'mode', 'verb', 'body', 'ext p50 ms', 'ext p99 ms', 'ext req/s', 'base p50 ms', 'base p99 ms', 'base req/s', 'req/s ratio', 'p99 ratio'],
    r.http.map((c) => [
      String(c.nodes),
      String(c.peers),
      c.mode,
      c.verb,
      size(c.requestBytes),
      f(c.extender.p50),
      f(c.extender.p99),
      n0(c.extender.requestsPerSecond),
      f(c.baseline.p50),
      f(c.baseline.p99),
      n0(c.baseline.requestsPerSecond),
      f(c.throughputRatio),
      f(c.p99Ratio),
    ]),
  );
}

export function scoringTable(r: BenchResult): string {
  return table(
    ['nodes', 'peers', 'evaluate ops/s', 'evaluate p99 ms', 'prioritize handler ops/s', 'p99 ms', 'filter handler ops/s', 'p99 ms'],
    r.scoring.map((s) => [
      String(s.nodes),
      String(s.peers),
      n0(s.scoring.opsPerSecond),
      f(s.scoring.p99, 3),
      n0(s.prioritizeHandler.opsPerSecond),
      f(s.prioritizeHandler.p99, 3),
      n0(s.filterHandler.opsPerSecond),
      f(s.filterHandler.p99, 3),
    ]),
  );
}

export function matrixRefreshTable(r: BenchResult): string {
  const m = r.matrixRefresh;
  return table(
    ['nodes', 'peers each', 'links', 'samples', 'answers', 'JSON.parse ms', 'instantVector ms', 'matrixFromSamples ms', 'total ms'],
    [[String(m.nodes), String(m.peers), n0(m.links), n0(m.samples), size(m.answerBytes), f(m.parseMs, 1), f(m.validateMs, 1), f(m.buildMs, 1), f(m.totalMs, 1)]],
  );
}

export function agentTable(r: BenchResult): string {
  const a = r.agent;
  if (a.skipped) return `Not measured in this run: ${a.skipped}`;
  return table(
    ['targets', 'CPU % of one core', 'RSS MiB (min / mean / max)', 'iperf3 server RSS MiB', 'sampled s (after warm-up s)'],
    [
      [
        // results written before the agent's `peers` were renamed `targets` carry `peers`
        String(a.targets ?? (a as { peers?: number }).peers ?? '-'),
        f(a.cpuPercent ?? NaN),
        a.rssMiB ? `${a.rssMiB.min} / ${a.rssMiB.mean} / ${a.rssMiB.max}` : '-',
        String(a.childrenRssMiB ?? '-'),
        `${a.sampleSeconds ?? '-'} (${a.warmupSeconds ?? '-'})`,
      ],
    ],
  );
}

/** "400 Mbit/s", "at least 700 Mbit/s" (the series' highest step passed), or "-". */
function capacityText(mbps: number | undefined, steps: EmulatorStep[] | undefined, series: EmulatorStep['series']): string {
  if (mbps === undefined) return '-';
  const top = (steps ?? []).filter((s) => s.series === series).sort((a, b) => b.rateMbps - a.rateMbps)[0];
  return `${top?.passed ? 'at least ' : ''}${f(mbps, 0)} Mbit/s`;
}

export function emulatorTable(r: BenchResult): string {
  const e = r.emulator;
  if (!e) return 'Not measured in this run.';
  if (e.skipped) return `Not measured in this run: ${e.skipped}`;
  const us = (v: number | undefined) => (v === undefined ? '-' : String(v));
  const ms = (v: number | undefined) => (v === undefined ? '-' : f(v));
  const lines = [
    `Measured ${e.measuredAt ?? '-'}${e.commit ? `, ${commitText(e)}` : ''}, load average ${e.loadAverage ?? '-'} at start, ${e.lanes ?? '-'} receiving lanes, ${e.testSeconds ?? '-'} s per test. ` +
      (e.capacityMbps !== undefined
        ? `**Capacity: ${capacityText(e.capacityOneLinkMbps, e.steps, '1 link')} on one link, ` +
          `${capacityText(e.capacityTwoLinksMbps, e.steps, '2 links')} on two links at once** ` +
          `(configured rate of the loaded links together, with the packets' mean and 90th-percentile lateness within 0.2 ms and the goodput within 10 %).`
        : '**Capacity: not reached at any step** (no step kept the mean and 90th-percentile lateness within 0.2 ms and the goodput within 10 %).'),
    '',
    table(
      ['series', 'rate Mbit/s', 'goodput Mbit/s', 'of expected', 'carried Mbit/s', 'lateness mean / p90 / p99 µs', 'probe p1 / p99 µs', 'probes within ±0.2 ms', 'bystander RTT idle -> loaded ms', 'passed'],
      (e.steps ?? []).map((s) => [
        s.series,
        String(s.rateMbps),
        f(s.goodputMbps, 0),
        f(s.goodputMbps / s.expectedMbps),
        f(s.carriedMbps, 0),
        `${us(s.latenessMeanUs)} / ${us(s.latenessP90Us)} / ${us(s.latenessP99Us)}`,
        `${us(s.probeP1Us)} / ${us(s.probeP99Us)}`,
        s.probeWithin200us === undefined ? '-' : `${f(s.probeWithin200us * 100, 1)} %`,
        `${ms(s.bystanderIdleMs)} -> ${ms(s.bystanderLoadedMs)}`,
        s.passed ? 'yes' : 'no',
      ]),
    ),
  ];
  if (e.targets?.length) lines.push('', table(['target', 'measured', 'met'], e.targets.map((t) => [t.target, t.measured, t.met ? 'yes' : 'no'])));
  return lines.join('\n');
}

export function kubeSchedulerTable(r: BenchResult): string {
  const runs = r.kubeScheduler ?? [];
  if (!runs.length) return 'Not measured in this run.';
  const skipped = runs.filter((k) => k.skipped);
  const done = runs.filter((k) => !k.skipped);
  const lines: string[] = [];
  if (done.length)
    lines.push(
      table(
        [
          'nodes',
          'pods stored',
          'to schedule',
          'links',
          'pods/s without',
          'pods/s no-op extender',
          'pods/s with',
          'ratio (no-op)',
          'scheduler algorithm ms without / no-op / with',
          'extender ms/pod',
          'filter ms',
          'prioritize ms',
          'prioritize reused / computed',
          'on best nodes without / with',
          'extender RSS MiB (peak)',
        ],
        done.map((k) => {
          const e = k.extender!;
          return [
            String(k.nodes),
            n0(k.storedPods ?? NaN),
            String(k.pending),
            n0(k.links ?? NaN),
            f(k.without!.podsPerSecond, 1),
            k.noop ? f(k.noop.podsPerSecond, 1) : '-',
            f(k.with!.podsPerSecond, 1),
            `${f(k.ratio!)} (${k.noopRatio === undefined ? '-' : f(k.noopRatio)})`,
            `${f(k.without!.algorithmMs ?? NaN)} / ${f(k.noop?.algorithmMs ?? NaN)} / ${f(k.with!.algorithmMs ?? NaN)}`,
            f(e.msPerPod),
            f(e.filterMs),
            f(e.prioritizeMs),
            `${e.reused} / ${e.computed}`,
            `${k.without!.onBestNodes} / ${k.with!.onBestNodes} of ${k.pending} (${k.bestNodes} nodes)`,
            `${e.rssMiB} (${e.peakRssMiB})`,
          ];
        }),
      ),
    );
  for (const k of skipped) lines.push(`${done.length ? '\n' : ''}${k.nodes} nodes: not measured in this run: ${k.skipped}`);
  return lines.join('\n');
}

export function matrixScaleTable(r: BenchResult): string {
  const shapes = r.matrixScale ?? [];
  if (!shapes.length) return 'Not measured in this run.';
  return table(
    ['nodes', 'peers each', 'links', 'answers', 'refresh s (first, then each)', 'RSS MiB after GC (peak)', 'heap MiB', 'evaluate ms, 10 peer nodes (first, next)'],
    shapes.map((m) =>
      m.error
        ? [String(m.nodes), String(m.peers), n0(m.nodes * m.peers), m.answerMiB === undefined ? '-' : `${f(m.answerMiB, 1)} MiB`, `failed: ${m.error}`, '-', '-', '-']
        : [
            String(m.nodes),
            String(m.peers),
            n0(m.links ?? NaN),
            `${f(m.answerMiB ?? NaN, 1)} MiB`,
            (m.refreshSeconds ?? []).map((v) => f(v)).join(', '),
            `${m.rssMiB} (${m.peakRssMiB})`,
            `${m.heapMiB} of ${m.heapLimitMiB}`,
            `${f(m.evaluateMs!.first, 1)}, ${f(m.evaluateMs!.next, 1)}`,
          ],
    ),
  );
}

export function targetsTable(r: BenchResult): string {
  if (!r.targets.length) return 'None measured in this run.';
  return table(['goal', 'measured', 'met'], r.targets.map((t) => [t.target, t.measured, t.met ? 'yes' : '**no**']));
}

/** Every table of a run, as Markdown (what goes between the markers, and what a run prints). */
export function docTables(r: BenchResult): string {
  return [
    runLine(r),
    '',
    '### Goals',
    '',
    targetsTable(r),
    '',
    '### Extender vs baseline over HTTP (loopback)',
    '',
    httpTable(r),
    '',
    '### Without HTTP',
    '',
    scoringTable(r),
    '',
    '### Matrix refresh (Prometheus answers -> LinkMatrix)',
    '',
    matrixRefreshTable(r),
    '',
    '### The link matrix at scale (prometheus source: memory and refresh time)',
    '',
    matrixScaleTable(r),
    '',
    '### A real kube-scheduler, without and with the extender',
    '',
    kubeSchedulerTable(r),
    '',
    '### Idle agent',
    '',
    agentTable(r),
    '',
    '### Lab emulator capacity',
    '',
    emulatorTable(r),
  ].join('\n');
}

/** The whole generated block, markers included. */
export function docBlock(r: BenchResult): string {
  return `${DOC_BEGIN}\n${docTables(r)}\n${DOC_END}`;
}

/** The text between the markers (markers excluded), or an error saying what is wrong with them. */
export function generatedPart(doc: string): string {
  const begin = doc.indexOf(DOC_BEGIN);
  const end = doc.indexOf(DOC_END);
  if (begin < 0 || end < 0 || end < begin) throw new Error(`the document needs ${DOC_BEGIN} followed by ${DOC_END}`);
  if (doc.indexOf(DOC_BEGIN, begin + 1) >= 0 || doc.indexOf(DOC_END, end + 1) >= 0) throw new Error('the document has the bench-results markers more than once');
  return doc.slice(begin + DOC_BEGIN.length, end);
}

/** `doc` with the part between the markers replaced by the tables of `r`. */
export function replaceTables(doc: string, r: BenchResult): string {
  generatedPart(doc); // checks the markers
  const begin = doc.indexOf(DOC_BEGIN);
  const end = doc.indexOf(DOC_END) + DOC_END.length;
  return doc.slice(0, begin) + docBlock(r) + doc.slice(end);
}

/** Rewrites the generated part of `docFile` from the result JSON in `resultFile`. */
export async function updateDoc(docFile: string, resultFile: string): Promise<void> {
  const result = JSON.parse(await readFile(resultFile, 'utf8')) as BenchResult;
  const doc = await readFile(docFile, 'utf8');
  await writeFile(docFile, replaceTables(doc, result));
}
