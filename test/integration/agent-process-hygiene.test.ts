// Process hygiene of the built CLI (`node bin/lpm.js`, `npm run build` first), on loopback:
// - SIGTERM exits 0 with "agent stopped" after the agent's iperf3 server was killed and restarted
//   (it used to exit 143: execa's signal-exit re-raised the signal once the agent had removed its
//   own handler); a second SIGTERM, a SIGHUP before it: still 0; the extender likewise;
// - an `iperf3 -s` left holding the agent's port (by an agent that was SIGKILLed) is found, killed
//   and logged by the next agent, whose /readyz then turns 200;
// - the iperf3 server dies with a SIGKILLed agent (setpriv --pdeathsig);
// - a deleted config file in a busy directory is warned about once, not every 300 ms, and its
//   return is logged.
// Needs iperf3, ping allowed to send ICMP echo, and setpriv (util-linux) for the SIGKILL case.
import { readdir, readFile, mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { afterAll, afterEach, expect, it } from 'vitest';
import { built, describeWithCapabilities, iperf3, missingCapabilities, pingSends, ROOT, setpriv } from '../helpers/capability.js';
import { waitFor } from '../helpers/waitFor.js';
import { freeLoopbackPort } from '../../scenarios/lab/prometheus.js';

const BIN = join(ROOT, 'bin', 'lpm.js');
const missing = await missingCapabilities([built(), iperf3(), pingSends(), setpriv()]);

interface Started {
  proc: ResultPromise;
  pid: number;
  /** Every log line so far (JSON lines on stderr). */
  lines: () => Array<{ level: number; msg: string; [k: string]: unknown }>;
}

const started: Started[] = [];
const strays: number[] = [];
let dir = '';

function startLpm(args: string[]): Started {
  const proc = execa(process.execPath, [BIN, ...args], { reject: false, stdin: 'ignore', stdout: 'ignore', stderr: 'pipe', buffer: false });
  let text = '';
  proc.stderr.on('data', (d: Buffer) => (text += d.toString()));
  const s: Started = {
    proc,
    pid: proc.pid!,
    lines: () =>
      text
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { level: number; msg: string }),
  };
  started.push(s);
  return s;
}

const alive = async (pid: number) => {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
};

/** The children of pid that are `iperf3 -s` (after setpriv has exec'd it). */
async function iperf3Children(pid: number): Promise<number[]> {
  const out: number[] = [];
  for (const d of await readdir('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = await readFile(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== pid) continue;
      const argv = (await readFile(`/proc/${d}/cmdline`, 'utf8')).split('\0');
      if (argv[0]?.endsWith('iperf3') && argv.includes('-s')) out.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

async function ready(port: number): Promise<boolean | undefined> {
  const r = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(2000) });
  return r.status === 200 ? true : undefined;
}

async function agentConfig(o: { http: number; iperf3: number }, file = join(dir, `agent-${o.http}.yaml`)): Promise<string> {
  await writeFile(
    file,
    [
      'node: node-a',
      'address: 127.0.0.1',
      `listen: 127.0.0.1:${o.http}`,
      'targets:',
      '  - { name: node-b, address: 127.0.0.2 }',
      `iperf3: { port: ${o.iperf3} }`,
      'measurements:',
      '  - { type: rtt, interval: 60s, ping: { count: 2, spacing: 0.2s } }',
      '',
    ].join('\n'),
  );
  return file;
}

async function stopAll(): Promise<void> {
  for (const s of started.splice(0)) {
    const kids = await iperf3Children(s.pid).catch(() => []);
    if (s.proc.exitCode === null && s.proc.signalCode === null) s.proc.kill('SIGKILL');
    await s.proc;
    strays.push(...kids);
  }
  for (const pid of strays.splice(0)) {
    // only if it is still one of our iperf3 servers (a pid may have been reused meanwhile)
    const argv = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (!argv.startsWith('iperf3\0-s\0')) continue;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

describeWithCapabilities('agent and extender process hygiene (built CLI, loopback)', missing, () => {
  afterEach(stopAll);
  afterAll(async () => {
    await stopAll();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const setup = async () => {
    dir ||= await mkdtemp(join(tmpdir(), 'lpm-hygiene-'));
    return { http: await freeLoopbackPort(0), iperf3: await freeLoopbackPort(0) };
  };

  it('SIGTERM after an iperf3 server restart exits 0 with "agent stopped"; so do a SIGHUP and a second SIGTERM', async () => {
    const ports = await setup();
    const agent = startLpm(['agent', '--config', await agentConfig(ports)]);
    await waitFor('agent ready', () => ready(ports.http), 30_000);
    const [first] = await iperf3Children(agent.pid);
    expect(first).toBeDefined();
    process.kill(first!, 'SIGKILL');
    await waitFor('iperf3 restarted', async () => agent.lines().some((l) => l.msg === 'iperf3 server exited; restarting') || undefined, 20_000);
    const second = await waitFor('a new iperf3 server', async () => (await iperf3Children(agent.pid)).find((p) => p !== first), 20_000);
    await waitFor('agent ready again', () => ready(ports.http), 30_000);
    agent.proc.kill('SIGHUP'); // re-reads the config: not a reason to stop
    await new Promise((r) => setTimeout(r, 300));
    agent.proc.kill('SIGTERM');
    const r = await agent.proc;
    expect({ exitCode: r.exitCode, signal: r.signal }).toEqual({ exitCode: 0, signal: undefined });
    expect(agent.lines().map((l) => l.msg)).toContain('agent stopped');
    expect(await alive(second)).toBe(false);

    // a second SIGTERM while stopping: exits at once, still 0
    const again = startLpm(['agent', '--config', await agentConfig(ports)]);
    await waitFor('agent ready', () => ready(ports.http), 30_000);
    again.proc.kill('SIGTERM');
    again.proc.kill('SIGTERM');
    expect((await again.proc).exitCode).toBe(0);
  });

  it('the extender exits 0 on SIGTERM after a SIGHUP (ignored) and on a double SIGTERM', async () => {
    await setup();
    const port = await freeLoopbackPort(0);
    const file = join(dir, 'extender.yaml');
    await writeFile(file, `listen: 127.0.0.1:${port}\nsource: { type: static, links: [] }\nkubernetes: { enabled: false }\n`);
    const ext = startLpm(['extender', '--config', file]);
    const healthy = async () => ((await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(2000) })).ok ? true : undefined);
    await waitFor('extender up', healthy, 30_000);
    ext.proc.kill('SIGHUP');
    await new Promise((r) => setTimeout(r, 300));
    expect(await healthy()).toBe(true);
    ext.proc.kill('SIGTERM');
    const r = await ext.proc;
    expect({ exitCode: r.exitCode, signal: r.signal }).toEqual({ exitCode: 0, signal: undefined });
    expect(ext.lines().map((l) => l.msg)).toEqual(expect.arrayContaining(['shutting down: draining in-flight requests', 'stopped']));

    const twice = startLpm(['extender', '--config', file]);
    await waitFor('extender up', healthy, 30_000);
    twice.proc.kill('SIGTERM');
    twice.proc.kill('SIGTERM');
    expect((await twice.proc).exitCode).toBe(0);
  });

  it('an iperf3 server left holding the port is killed, logged and replaced; the new agent turns ready', async () => {
    const ports = await setup();
    // what a SIGKILLed agent without setpriv left behind: an iperf3 -s on the port, parent gone
    const stale = execa('iperf3', ['-s', '-p', String(ports.iperf3), '-B', '127.0.0.1'], { reject: false, stdin: 'ignore', stdout: 'ignore', stderr: 'ignore', detached: true, cleanup: false });
    strays.push(stale.pid!);
    await waitFor('stale iperf3 listening', async () => ((await readFile('/proc/net/tcp', 'utf8')).includes(`:${ports.iperf3.toString(16).toUpperCase().padStart(4, '0')} 00000000:0000 0A`) ? true : undefined), 10_000, 100);
    const agent = startLpm(['agent', '--config', await agentConfig(ports)]);
    await waitFor('agent ready', () => ready(ports.http), 30_000);
    await stale;
    expect(await alive(stale.pid!)).toBe(false);
    const killed = agent.lines().find((l) => l.msg.startsWith('killing a stale iperf3 server'));
    expect(killed).toMatchObject({ pid: stale.pid, port: ports.iperf3, address: '127.0.0.1' });
    expect(String(killed!.command)).toBe(`iperf3 -s -p ${ports.iperf3} -B 127.0.0.1`);
    expect(agent.lines().some((l) => l.msg === 'iperf3 server exited; restarting')).toBe(false);
  });

  it("the iperf3 server dies with a SIGKILLed agent, and the next agent starts cleanly", async () => {
    const ports = await setup();
    const file = await agentConfig(ports);
    const agent = startLpm(['agent', '--config', file]);
    await waitFor('agent ready', () => ready(ports.http), 30_000);
    const [server] = await iperf3Children(agent.pid);
    expect(server).toBeDefined();
    strays.push(server!);
    agent.proc.kill('SIGKILL');
    await agent.proc;
    await waitFor('iperf3 gone with its agent', async () => ((await alive(server!)) ? undefined : true), 5000, 50);
    const next = startLpm(['agent', '--config', file]);
    await waitFor('next agent ready', () => ready(ports.http), 30_000);
    expect(next.lines().some((l) => l.msg.startsWith('killing a stale iperf3 server'))).toBe(false);
  });

  it('a deleted config in a busy directory: one warning, not one per event; its return is logged', async () => {
    const ports = await setup();
    const own = await mkdtemp(join(dir, 'cfg-'));
    const file = await agentConfig(ports, join(own, 'agent.yaml'));
    const text = await readFile(file, 'utf8');
    const agent = startLpm(['agent', '--config', file]);
    await waitFor('agent ready', () => ready(ports.http), 30_000);
    await unlink(file);
    // 3 s of other files changing next to it, further apart than the 300 ms debounce: each event
    // is a check of the (missing) file, which used to log a warning each time
    const until = Date.now() + 3000;
    for (let i = 0; Date.now() < until; i++) {
      await writeFile(join(own, `noise-${i % 5}`), String(i));
      await new Promise((r) => setTimeout(r, 400));
    }
    await new Promise((r) => setTimeout(r, 600));
    const missingWarnings = () => agent.lines().filter((l) => l.level === 40 && /config file (still )?cannot be read/.test(l.msg));
    expect(missingWarnings()).toHaveLength(1);
    await writeFile(file, text);
    await waitFor('return logged', async () => agent.lines().some((l) => l.msg === 'config file is readable again') || undefined, 10_000, 100);
    expect(missingWarnings()).toHaveLength(1);
    expect(await ready(ports.http)).toBe(true);
  });
});
