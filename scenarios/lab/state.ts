// The lab state file (/run/lpm/labs/NAME.json): what `lab up` planned and what it has created so
// far (written after every step), so `lab down`, `status`, `exec` and `set` work from another
// process and after `up` crashed half-way. Emulator runtime info (ports) comes in its own file,
// written by the emulator process once its sockets are bound.
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import type { LabPlan } from './plan.js';
import type { KubeState } from './kube/state.js';

/** Directory of state files; LPM_LAB_DIR overrides it (e.g. without write access to /run). */
export function labDir(): string {
  return process.env.LPM_LAB_DIR ?? '/run/lpm/labs';
}

export const statePath = (lab: string) => join(labDir(), `${lab}.json`);
export const emulatorInfoPath = (lab: string) => join(labDir(), `${lab}.emulator.json`);
export const emulatorLogPath = (lab: string) => join(labDir(), `${lab}.emulator.log`);
export const agentConfigPath = (lab: string, node: string) => join(labDir(), `${lab}.agent-${node}.yaml`);
export const agentLogPath = (lab: string, node: string) => join(labDir(), `${lab}.agent-${node}.log`);
/** Directory of the lab Prometheus (config, TSDB, log). */
export const prometheusDir = (lab: string) => join(labDir(), `${lab}.prometheus`);

export interface ProcessRecord {
  pid: number;
  /** A string that must appear in /proc/PID/cmdline, so a reused PID is never killed. */
  marker: string;
  log: string;
}

export interface LabState {
  version: 1;
  name: string;
  /** Topology file the lab came from. */
  file: string;
  createdAt: string;
  /** creating: `up` is running or crashed; up: ready; failed: `up` gave up (run `down`). */
  phase: 'creating' | 'up' | 'failed';
  error?: string;
  plan: LabPlan;
  /** Emulator dates packet arrivals back by its measured receive latency (see receiveLatency.ts). */
  compensate?: boolean;
  /** The topology's `agent` section, merged into every agent config. */
  agentExtra?: Record<string, unknown>;
  /** What exists, in creation order, so teardown removes exactly that. */
  created: { netns: string[]; rootLinks: string[] };
  emulator?: ProcessRecord & { httpPort?: number; ports?: Record<string, number> };
  agents: (ProcessRecord & { node: string; config: string })[];
  /** `up --prometheus`: a Prometheus on loopback scraping the agents and the emulator. */
  prometheus?: ProcessRecord & { url: string; port: number };
  /** `up --kube`: the lab's Kubernetes control plane (kube/state.ts). */
  kube?: KubeState;
}

/** What the emulator writes once it listens. */
export const emulatorInfoSchema = z.object({
  pid: z.number().int(),
  httpPort: z.number().int().min(1).max(65535),
  address: z.string(),
  /** UDP port per directed link "from->to". */
  ports: z.record(z.string(), z.number().int().min(1).max(65535)),
});
export type EmulatorInfo = z.infer<typeof emulatorInfoSchema>;

export async function writeJsonAtomic(file: string, data: unknown): Promise<void> {
  await mkdir(labDir(), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(data, null, 2) + '\n', { mode: 0o600 });
  await rename(tmp, file);
}

export async function writeState(state: LabState): Promise<void> {
  await writeJsonAtomic(statePath(state.name), state);
}

export async function readState(lab: string): Promise<LabState | undefined> {
  let text: string;
  try {
    text = await readFile(statePath(lab), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const data = JSON.parse(text) as LabState;
  if (data.version !== 1 || data.name !== lab || !data.plan)
    throw new Error(`${statePath(lab)}: not a lab state file of this lpm version`);
  return data;
}

/** Names of labs with a state file. */
export async function listLabs(): Promise<string[]> {
  let files: string[];
  try {
    files = await readdir(labDir());
  } catch {
    return [];
  }
  return files
    .filter((f) => /^[a-z][a-z0-9]{0,7}\.json$/.test(f))
    .map((f) => f.slice(0, -'.json'.length))
    .sort();
}

/** Removes the state file and every side file of a lab (logs, agent configs, emulator info). */
export async function removeLabFiles(lab: string): Promise<void> {
  let files: string[] = [];
  try {
    files = await readdir(labDir());
  } catch {
    return;
  }
  await Promise.all(
    files
      .filter((f) => f === `${lab}.json` || f.startsWith(`${lab}.`))
      .map((f) => rm(join(labDir(), f), { force: true, recursive: true })),
  );
}

/** Picks the lab a command is about: the named one, or the only one there is. */
export async function resolveLab(name: string | undefined): Promise<string> {
  if (name) return name;
  const labs = await listLabs();
  if (labs.length === 1) return labs[0]!;
  if (labs.length === 0) throw new Error(`no lab is up (no state file in ${labDir()})`);
  throw new Error(`several labs are up (${labs.join(', ')}); say which with --lab NAME`);
}
