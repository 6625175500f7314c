// The benchmark's output: the whole result as JSON with the machine it ran on, the date and the git
// commit, and on stdout the same Markdown tables docs/benchmarks.md shows (bench/docTables.ts).
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { dirname } from 'node:path';
import { execa } from 'execa';
import { docTables } from './docTables.js';
import type { AgentOverheadResult } from './agentOverhead.js';
import type { EmulatorCapacityResult } from './emulatorCapacity.js';
import type { KubeSchedulerCaseResult } from './kubeSchedulerCase.js';
import type { MatrixScaleResult } from './matrixScaleCase.js';
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
  /** `git rev-parse --short HEAD` of the tree that ran; absent when it was not recorded (no git). */
  commit?: string;
  /** Whether that tree had uncommitted changes (`git status --porcelain` not empty). */
  dirty?: boolean;
}

export interface BenchResult {
  profile: 'full' | 'quick';
  machine: MachineInfo;
  settings: Record<string, unknown>;
  http: HttpCaseResult[];
  scoring: ScoringCaseResult[];
  matrixRefresh: MatrixRefreshResult;
  agent: AgentOverheadResult;
  /** The lab emulator's capacity on this machine (absent in results from before it was measured). */
  emulator?: EmulatorCapacityResult;
  /** The link matrix's memory and refresh time at scale (absent in results from before it was measured). */
  matrixScale?: MatrixScaleResult[];
  /** A real kube-scheduler without and with the extender, per cluster size (absent likewise). */
  kubeScheduler?: KubeSchedulerCaseResult[];
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

/** The commit the run measured, and whether the working tree differed from it; {} without git. */
export async function gitCommit(root: string): Promise<Pick<MachineInfo, 'commit' | 'dirty'>> {
  const opts = { cwd: root, reject: false, stdin: 'ignore', timeout: 10_000 } as const;
  const head = await execa('git', ['rev-parse', '--short', 'HEAD'], opts).catch(() => undefined);
  if (!head || head.exitCode !== 0 || !/^[0-9a-f]{4,40}$/.test(head.stdout.trim())) return {};
  const status = await execa('git', ['status', '--porcelain'], opts).catch(() => undefined);
  return {
    commit: head.stdout.trim(),
    ...(status && status.exitCode === 0 ? { dirty: status.stdout.trim() !== '' } : {}),
  };
}

/** What a run prints on stdout: the tables of docs/benchmarks.md. */
export function report(r: BenchResult): string {
  return `${docTables(r)}\n`;
}

export async function writeResult(file: string, r: BenchResult): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, `${JSON.stringify(r, null, 2)}\n`);
}
