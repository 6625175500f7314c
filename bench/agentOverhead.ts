// Agent overhead: RSS and CPU of one real agent (`node bin/lpm.js agent`) with 100 configured
// targets, idle between measurement rounds. It runs inside a network namespace of our own whose
// loopback carries the targets' addresses (127.0.0.2..101), so its probes can only reach itself.
// RTT runs once to every target within the first 10 s (the scheduler's start spread), then every
// hour; we wait for that first sweep, then sample /proc/PID/stat and /proc/PID/status.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { addNetns, deleteNetns, inNetns, netnsCapability } from '../scenarios/lab/ip.js';

export interface AgentOverheadResult {
  targets: number;
  /** Why it did not run (no root / no namespaces), when it did not. */
  skipped?: string;
  warmupSeconds?: number;
  sampleSeconds?: number;
  /** Mean CPU of the agent process over the sample, percent of one core. */
  cpuPercent?: number;
  rssMiB?: { min: number; max: number; mean: number };
  /** The agent's child processes (the iperf3 server), RSS at the end. */
  childrenRssMiB?: number;
}

export interface AgentOverheadOptions {
  /** Repository root (bin/lpm.js lives there). */
  root: string;
  targets: number;
  warmupSeconds: number;
  sampleSeconds: number;
}

const PAGE_TICKS = 100; // USER_HZ: /proc times are in clock ticks of 1/100 s on Linux

async function cpuTicks(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // fields after the ")" that closes the command name: state is field 3, utime 14, stime 15
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]);
}

async function rssKiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+) kB/m.exec(status);
  return m ? Number(m[1]) : NaN;
}

async function childPids(pid: number): Promise<number[]> {
  try {
    const text = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8');
    return text.split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

export async function runAgentOverhead(opts: AgentOverheadOptions): Promise<AgentOverheadResult> {
  const cap = await netnsCapability();
  if (!cap.ok) return { targets: opts.targets, skipped: cap.reason };
  const ns = `lpmbench${process.pid}`;
  const dir = await mkdtemp(join(tmpdir(), 'lpm-bench-agent-'));
  let child: ReturnType<typeof execa> | undefined;
  try {
    await addNetns(ns); // loopback up: 127.0.0.0/8 is all ours inside it
    const targets = Array.from({ length: opts.targets }, (_, i) => `  - { name: target-${i + 1}, address: 127.0.0.${i + 2} }`);
    const config = [
      'node: bench-agent',
      'address: 127.0.0.1',
      'listen: 127.0.0.1:9105',
      'targets:',
      ...targets,
      'measurements:',
      '  - type: rtt',
      '    interval: 1h',
      '    ping: { count: 3, spacing: 200ms, timeout: 1s }',
      '',
    ].join('\n');
    const file = join(dir, 'agent.yaml');
    await writeFile(file, config);
    const [cmd, args] = inNetns(ns, [process.execPath, join(opts.root, 'bin/lpm.js'), 'agent', '--config', file, '--log-level', 'info']);
    // own process group, so the agent and its iperf3 server are stopped together
    child = execa(cmd, args, { detached: true, reject: false, buffer: false, stdin: 'ignore' });
    let out = '';
    const started = new Promise<void>((resolve, reject) => {
      // the agent logs (JSON lines) to stderr
      const onData = (d: Buffer) => {
        out += d.toString();
        if (out.includes('"agent started"')) resolve();
      };
      child!.stdout!.on('data', onData);
      child!.stderr!.on('data', onData);
      void child!.then((r) => reject(new Error(`agent exited (${r.exitCode}) before starting: ${out.slice(-500)}`)));
    });
    const timeout = new AbortController();
    await Promise.race([
      started,
      sleep(30_000, undefined, { signal: timeout.signal }).then(() => Promise.reject(new Error(`agent did not start within 30 s: ${out.slice(-500)}`))),
    ]).finally(() => timeout.abort());
    const pid = child.pid!;
    await sleep(opts.warmupSeconds * 1000);

    const t0 = performance.now();
    const c0 = await cpuTicks(pid);
    const rss: number[] = [];
    const step = Math.min(1000, (opts.sampleSeconds * 1000) / 4);
    while (performance.now() - t0 < opts.sampleSeconds * 1000) {
      rss.push(await rssKiB(pid));
      await sleep(step);
    }
    const c1 = await cpuTicks(pid);
    const seconds = (performance.now() - t0) / 1000;
    rss.push(await rssKiB(pid));
    let childrenKiB = 0;
    for (const c of await childPids(pid)) childrenKiB += (await rssKiB(c).catch(() => 0)) || 0;
    const mib = (k: number) => Math.round((k / 1024) * 10) / 10;
    return {
      targets: opts.targets,
      warmupSeconds: opts.warmupSeconds,
      sampleSeconds: Math.round(seconds * 10) / 10,
      cpuPercent: Math.round((((c1 - c0) / PAGE_TICKS / seconds) * 100) * 100) / 100,
      rssMiB: { min: mib(Math.min(...rss)), max: mib(Math.max(...rss)), mean: mib(rss.reduce((s, v) => s + v, 0) / rss.length) },
      childrenRssMiB: mib(childrenKiB),
    };
  } finally {
    if (child?.pid && child.exitCode === null) {
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {
        /* already gone */
      }
      const exited = await Promise.race([child.then(() => true), sleep(5000).then(() => false)]);
      if (!exited)
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      await child.catch(() => undefined);
    }
    await deleteNetns(ns).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}
