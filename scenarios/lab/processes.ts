// The lab's long-running processes (emulator, agents): started detached in their own process
// group with output to a log file, so they outlive `lpm lab up`; identified by PID *and* a marker
// in their command line, so a PID reused after a crash or reboot is never killed.
import { spawn } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import type { ProcessRecord } from './state.js';

export function spawnDetached(cmd: string, args: string[], log: string): number {
  const fd = openSync(log, 'a', 0o600);
  try {
    const child = spawn(cmd, args, { detached: true, stdio: ['ignore', fd, fd] });
    if (child.pid === undefined) throw new Error(`cannot start ${cmd}`);
    child.unref();
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

async function cmdline(pid: number): Promise<string | undefined> {
  try {
    return (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').join(' ');
  } catch {
    return undefined;
  }
}

async function isZombie(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

/** Whether the recorded process still runs (same PID and marker in its command line). */
export async function isAlive(p: Pick<ProcessRecord, 'pid' | 'marker'>): Promise<boolean> {
  const cl = await cmdline(p.pid);
  return cl !== undefined && cl.includes(p.marker) && !(await isZombie(p.pid));
}

/** PIDs of running processes whose command line contains `marker` (the sweep after a crash). */
export async function findByMarker(marker: string): Promise<number[]> {
  const out: number[] = [];
  for (const e of await readdir('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const pid = Number(e);
    if (pid === process.pid) continue;
    const cl = await cmdline(pid);
    if (cl?.includes(marker) && !(await isZombie(pid))) out.push(pid);
  }
  return out;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig); // the process group: children (e.g. an agent's iperf3) go too
  } catch {
    try {
      process.kill(pid, sig);
    } catch {
      /* gone */
    }
  }
}

/** SIGTERM, wait up to `graceMs`, then SIGKILL. Only if the marker still matches. */
export async function stopProcess(p: Pick<ProcessRecord, 'pid' | 'marker'>, graceMs = 3000): Promise<void> {
  if (!(await isAlive(p))) return;
  signal(p.pid, 'SIGTERM');
  const until = Date.now() + graceMs;
  while (Date.now() < until) {
    await new Promise((r) => setTimeout(r, 50));
    if (!(await isAlive(p))) return;
  }
  signal(p.pid, 'SIGKILL');
  for (let i = 0; i < 40 && (await isAlive(p)); i++) await new Promise((r) => setTimeout(r, 25));
}

/** Plain PIDs (e.g. from `ip netns pids`): SIGKILL, no marker (the namespace is ours). */
export function killPids(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}
