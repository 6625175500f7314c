// The emulated overlay for real: namespaces, VXLAN, the userspace link emulator, real ping and
// iperf3, driven through the `lpm lab` CLI (bin/lpm.js, so `npm run build` first).
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { listLinks, listNetns } from '../../scenarios/lab/ip.js';
import { labDown } from '../../scenarios/lab/lab.js';
import { isAlive } from '../../scenarios/lab/processes.js';
import { readState, statePath, type LabState } from '../../scenarios/lab/state.js';
import { built, describeWithCapabilities, iperf3, missingCapabilities, netns, ping, ROOT } from '../helpers/capability.js';

const BIN = join(ROOT, 'bin', 'lpm.js');

const LAB = 'tacc';
const CRASH_LAB = 'tcrash';
const ns = (node: string) => `lpm-${LAB}-${node}`;
const addr = { a: '10.200.0.1', b: '10.200.0.2', c: '10.200.0.3' } as const;

// Different delays (one pair asymmetric) and rates on the three pairs.
const TOPOLOGY = `
name: ${LAB}
nodes: [a, b, c]
links:
  - { from: a, to: b, delay: 4ms, rate: 50Mbps }
  - { from: b, to: c, delay: 6ms, rate: 20Mbps }
  - { from: a, to: c, delay: 5ms, rate: 30Mbps }
  - { from: c, to: a, delay: 9ms, rate: 30Mbps }
`;

// Expected TCP goodput over a rate-limited link. The emulator counts UDP payload bytes, i.e.
// VXLAN header + inner Ethernet frame. Underlay MTU 1500 -> VXLAN device MTU 1450 (1500 - 20 IP
// - 8 UDP - 8 VXLAN - 14 inner Ethernet). A full segment: inner IP packet 1450 B = 20 IP + 32 TCP
// (20 + 12 timestamp option) + 1398 payload; on the link it is 1450 + 14 + 8 = 1472 B.
// Goodput = rate x 1398 / 1472 (94.97 %); ACKs travel the reverse link and cost nothing here.
const GOODPUT_FACTOR = 1398 / 1472;

async function lpm(args: string[], opts: { reject?: boolean } = {}) {
  return execa(process.execPath, [BIN, ...args], { reject: opts.reject ?? true, env: { LPM_LOG_LEVEL: 'warn' } });
}

function inNs(node: string, cmd: string[]) {
  return execa('ip', ['netns', 'exec', ns(node), ...cmd], { reject: false });
}

/** Per-reply RTTs in ms of `count` pings (after a warm-up that resolves ARP). */
async function pingRtts(from: string, to: string, count = 50, interval = '0.02'): Promise<number[]> {
  await inNs(from, ['ping', '-c', '3', '-i', '0.05', '-W', '2', to]);
  const r = await inNs(from, ['ping', '-c', String(count), '-i', interval, '-W', '2', to]);
  return [...r.stdout.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]));
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
/** Accuracy target: within max(0.5 ms, 5 %) of the configured round trip. */
const tolerance = (rttMs: number) => Math.max(0.5, 0.05 * rttMs);

async function expectRtt(from: keyof typeof addr, to: keyof typeof addr, configuredMs: number) {
  const rtts = await pingRtts(from, addr[to]);
  expect(rtts.length, `${from}->${to}: replies`).toBeGreaterThanOrEqual(45);
  const m = median(rtts);
  const detail = `${from}<->${to}: configured ${configuredMs} ms, median ${m.toFixed(3)} ms, mean ${mean(rtts).toFixed(3)} ms, min ${Math.min(...rtts)}`;
  console.log(detail);
  expect(Math.abs(m - configuredMs), detail).toBeLessThanOrEqual(tolerance(configuredMs));
  return m;
}

async function emulatorJson(state: LabState, path: string): Promise<unknown> {
  const res = await fetch(`http://127.0.0.1:${state.emulator!.httpPort}${path}`);
  return path === '/metrics' ? res.text() : res.json();
}

async function labLeftovers(lab: string) {
  return {
    netns: (await listNetns()).filter((n) => n.startsWith(`lpm-${lab}-`)),
    links: (await listLinks()).filter((l) => l === `lpm-${lab}` || l.startsWith(`lpm-${lab}-`)),
  };
}

const missing = await missingCapabilities([netns(), built(), ping(), iperf3()]);

describeWithCapabilities('lpm lab (3-node emulated overlay)', missing, () => {
  let dir: string;
  let state: LabState;

  beforeAll(async () => {
    // A lab left over by an earlier, killed run would make `up` refuse.
    await labDown(LAB).catch(() => undefined);
    await labDown(CRASH_LAB).catch(() => undefined);
    dir = await mkdtemp(join(tmpdir(), 'lpm-lab-'));
    await writeFile(join(dir, 'lab.yaml'), TOPOLOGY);
    const r = await lpm(['lab', 'up', join(dir, 'lab.yaml')]);
    expect(r.stdout).toContain(`lab ${LAB} is up`);
    state = (await readState(LAB))!;
  });

  afterAll(async () => {
    await labDown(LAB).catch(() => undefined);
    await labDown(CRASH_LAB).catch(() => undefined);
  });

  it('status shows nodes, links and a running emulator', async () => {
    const r = await lpm(['lab', 'status', LAB, '--json']);
    const [s] = JSON.parse(r.stdout) as [{ emulatorAlive: boolean; namespaces: string[]; emulator: { links: unknown[] } }];
    expect(s.emulatorAlive).toBe(true);
    expect(s.namespaces.sort()).toEqual([ns('a'), ns('b'), ns('c')]);
    expect(s.emulator.links).toHaveLength(6);
    const text = (await lpm(['lab', 'status', LAB])).stdout;
    expect(text).toMatch(/c->a\s+9ms/);
    expect(text).toMatch(/b\s+lpm-tacc-b\s+10\.200\.0\.2\s+10\.251\.\d+\.2/);
  });

  it('exec runs inside the node and passes the exit code', async () => {
    const r = await lpm(['lab', 'exec', 'b', '--lab', LAB, '--', 'ip', '-4', '-o', 'addr', 'show', 'br0']);
    expect(r.stdout).toContain('10.200.0.2/24');
    const f = await lpm(['lab', 'exec', 'b', '--lab', LAB, '--', 'false'], { reject: false });
    expect(f.exitCode).toBe(1);
  });

  it('ping RTT per pair is within max(0.5 ms, 5 %) of the configured round trip', async () => {
    await expectRtt('a', 'b', 8);
    await expectRtt('b', 'c', 12);
    await expectRtt('a', 'c', 14); // 5 ms there, 9 ms back
    await expectRtt('c', 'a', 14);
  });

  it.each([
    ['a', 'b', 50],
    ['c', 'b', 20],
  ] as const)('iperf3 TCP %s->%s reaches the %i Mbit/s rate minus VXLAN overhead (within 10 %%)', async (from, to, mbps) => {
    const server = execa('ip', ['netns', 'exec', ns(to), 'iperf3', '-s', '-1', '-B', addr[to], '-p', '5301'], {
      reject: false,
    });
    try {
      await new Promise((r) => setTimeout(r, 300));
      const r = await inNs(from, ['iperf3', '-c', addr[to], '-p', '5301', '-t', '5', '-O', '1', '-J']);
      const out = JSON.parse(r.stdout) as { end: { sum_received: { bits_per_second: number } }; error?: string };
      expect(out.error).toBeUndefined();
      const got = out.end.sum_received.bits_per_second;
      const expected = mbps * 1e6 * GOODPUT_FACTOR;
      expect(got / expected, `${from}->${to}: ${(got / 1e6).toFixed(2)} Mbit/s, expected ${(expected / 1e6).toFixed(2)}`).toBeGreaterThan(0.9);
      expect(got / expected).toBeLessThan(1.1);
    } finally {
      server.kill('SIGKILL');
      await server;
    }
    // The emulator counted that traffic on the right link.
    const metrics = (await emulatorJson(state, '/metrics')) as string;
    const bytes = Number(new RegExp(`lpm_lab_link_bytes_total\\{source_node="${from}",target_node="${to}"\\} (\\S+)`).exec(metrics)?.[1]);
    expect(bytes).toBeGreaterThan(((mbps * 1e6) / 8) * 4 * 0.8);
  });

  it('10 % loss on one direction shows as 5-15 % ping loss, and only that direction drops', async () => {
    await lpm(['lab', 'set', 'a->c', 'loss=10%', '--lab', LAB]);
    try {
      const before = (await emulatorJson(state, '/api/v1/emulated-links')) as {
        links: { source: string; target: string; counters: { packets: number; dropped: { loss: number } } }[];
      };
      const r = await inNs('a', ['ping', '-c', '400', '-i', '0.005', '-W', '1', '-q', addr.c]);
      const m = /(\d+) packets transmitted, (\d+) received/.exec(r.stdout);
      expect(m, r.stdout).not.toBeNull();
      const lossRatio = 1 - Number(m![2]) / Number(m![1]);
      expect(lossRatio, `ping loss ${lossRatio}`).toBeGreaterThanOrEqual(0.05);
      expect(lossRatio).toBeLessThanOrEqual(0.15);
      const after = (await emulatorJson(state, '/api/v1/emulated-links')) as typeof before;
      const drops = (s: string, t: string, x: typeof before) =>
        x.links.find((l) => l.source === s && l.target === t)!.counters.dropped.loss;
      expect(drops('a', 'c', after) - drops('a', 'c', before)).toBeGreaterThan(0);
      expect(drops('c', 'a', after) - drops('c', 'a', before)).toBe(0);
    } finally {
      await lpm(['lab', 'set', 'a:c', 'loss=0', '--lab', LAB]);
    }
  });

  it('a live delay change is followed by the RTT', async () => {
    await expectRtt('a', 'b', 8);
    const r = await lpm(['lab', 'set', 'a->b', 'delay=20ms', '--lab', LAB]);
    expect(r.stdout).toContain('a->b: delay=20ms');
    await expectRtt('a', 'b', 24);
    await lpm(['lab', 'set', 'a', 'b', 'delay=10ms', '--both', '--lab', LAB]);
    await expectRtt('a', 'b', 20);
    const bad = await lpm(['lab', 'set', 'a->b', 'delay=soon', '--lab', LAB], { reject: false });
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/delay: "soon" is not a duration/);
  });

  it('down leaves no namespace, link, process or state file behind', async () => {
    const pids = [state.emulator!];
    expect(await isAlive(pids[0]!)).toBe(true);
    const r = await lpm(['lab', 'down', LAB]);
    expect(r.stdout).toContain(`lab ${LAB} is down`);
    expect(await labLeftovers(LAB)).toEqual({ netns: [], links: [] });
    for (const p of pids) expect(await isAlive(p), `pid ${p.pid}`).toBe(false);
    expect(existsSync(statePath(LAB))).toBe(false);
  });

  it('down cleans up after `up` was killed half-way', async () => {
    const file = join(dir, 'crash.yaml');
    await writeFile(file, TOPOLOGY.replace(`name: ${LAB}`, `name: ${CRASH_LAB}`));
    const up = execa(process.execPath, [BIN, 'lab', 'up', file], { reject: false });
    // Kill it once it has started creating namespaces (or whenever it got that far).
    for (let i = 0; i < 400; i++) {
      const s = JSON.parse(await readFile(statePath(CRASH_LAB), 'utf8').catch(() => '{}')) as Partial<LabState>;
      if ((s.created?.netns.length ?? 0) >= 2 || up.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    up.kill('SIGKILL');
    await up;
    const s = await readState(CRASH_LAB);
    expect(s?.phase ?? 'creating').toBe('creating'); // it never finished
    expect((await labLeftovers(CRASH_LAB)).netns.length).toBeGreaterThan(0);
    await lpm(['lab', 'down', CRASH_LAB]);
    expect(await labLeftovers(CRASH_LAB)).toEqual({ netns: [], links: [] });
    if (s?.emulator) expect(await isAlive(s.emulator)).toBe(false);
  });
});
