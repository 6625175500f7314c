// The benchmark's output: a Markdown table per part on stdout (pasted as-is into the README, "Benchmarks")
// and the whole result as JSON with the machine it ran on.
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { dirname } from 'node:path';
import type { AgentOverheadResult } from './agentOverhead.js';
import type { HttpCaseResult } from './httpCases.js';
import type { MatrixRefreshResult } from './matrixRefreshCase.js';
import type { ScoringCaseResult } from './scoringCase.js';

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  node: string;
  platform: string;
  /** 1-minute load average when the run started (others' work on a shared machine skews numbers). */
  loadAverage: number;
  date: string;
}

export interface BenchResult {
  profile: 'full' | 'quick';
  machine: MachineInfo;
  settings: Record<string, unknown>;
  http: HttpCaseResult[];
  scoring: ScoringCaseResult[];
  matrixRefresh: MatrixRefreshResult;
  agent: AgentOverheadResult;
  targets: Array<{ target: string; measured: string; met: boolean }>;
  durationSeconds: number;
}

export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    loadAverage: Math.round(os.loadavg()[0]! * 100) / 100,
    date: new Date().toISOString(),
  };
}

const f = (v: number, digits = 2) => (Number.isFinite(v) ? v.toFixed(digits) : String(v));
const n0 = (v: number) => (Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : String(v));
const kib = (b: number) => (b >= 1024 * 1024 ? `${f(b / 1024 / 1024, 1)} MiB` : `${f(b / 1024, 1)} KiB`);

function table(head: string[], rows: string[][]): string {
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

export function httpTable(cases: readonly HttpCaseResult[]): string {
  return table(
    ['nodes', 'peers', 'mode', 'verb', 'body', 'ext p50 ms', 'ext p99 ms', 'ext req/s', 'base p50 ms', 'base p99 ms', 'base req/s', 'req/s ratio', 'p99 ratio'],
    cases.map((c) => [
      String(c.nodes),
      String(c.peers),
      c.mode,
      c.verb,
      kib(c.requestBytes),
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

export function report(r: BenchResult): string {
  const m = r.machine;
  const parts = [
    `lpm bench (${r.profile}) ${m.date}: ${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB, node ${m.node}, load average ${m.loadAverage} at start`,
    '',
    '### Extender vs baseline over HTTP (loopback)',
    '',
    httpTable(r.http),
    '',
    '### Without HTTP',
    '',
    table(
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
    ),
    '',
    '### Matrix refresh (Prometheus answers -> LinkMatrix)',
    '',
    table(
      ['nodes', 'peers each', 'links', 'samples', 'answers', 'JSON.parse ms', 'instantVector ms', 'matrixFromSamples ms', 'total ms'],
      [
        [
          String(r.matrixRefresh.nodes),
          String(r.matrixRefresh.peers),
          n0(r.matrixRefresh.links),
          n0(r.matrixRefresh.samples),
          kib(r.matrixRefresh.answerBytes),
          f(r.matrixRefresh.parseMs, 1),
          f(r.matrixRefresh.validateMs, 1),
          f(r.matrixRefresh.buildMs, 1),
          f(r.matrixRefresh.totalMs, 1),
        ],
      ],
    ),
    '',
    '### Idle agent',
    '',
    r.agent.skipped
      ? `skipped: ${r.agent.skipped}`
      : table(
          ['peers', 'CPU % of one core', 'RSS MiB (min / mean / max)', 'iperf3 server RSS MiB', 'sampled s (after warm-up s)'],
          [
            [
              String(r.agent.peers),
              f(r.agent.cpuPercent!),
              `${r.agent.rssMiB!.min} / ${r.agent.rssMiB!.mean} / ${r.agent.rssMiB!.max}`,
              String(r.agent.childrenRssMiB),
              `${r.agent.sampleSeconds} (${r.agent.warmupSeconds})`,
            ],
          ],
        ),
    '',
    '### Targets (issue 8)',
    '',
    table(
      ['target', 'measured', 'met'],
      r.targets.map((t) => [t.target, t.measured, t.met ? 'yes' : 'no']),
    ),
    '',
    `Whole run: ${f(r.durationSeconds, 0)} s.`,
    '',
  ];
  return parts.join('\n');
}

export async function writeResult(file: string, r: BenchResult): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, `${JSON.stringify(r, null, 2)}\n`);
}
