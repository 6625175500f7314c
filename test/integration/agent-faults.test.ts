// Agent faults, on real agents (`node bin/lpm.js agent`, built first with `npm run build`) in
// network namespaces of our own (prefix lpmflt):
// - ping not permitted (an unprivileged user without CAP_NET_RAW, ICMP sockets closed by the
//   namespace's net.ipv4.ping_group_range): the agent refuses to start, naming ping and the
//   kernel's refusal, exit code 1; with the group allowed, the same user starts fine;
// - the iperf3 server killed: restarted, counted in lpm_iperf3_server_restarts_total, and the
//   peer measures bandwidth towards it again;
// - tool output garbage (a fake ping/iperf3 first on PATH: the point is the agent's reaction to
//   output it cannot read): error results, counted in lpm_measurements_total{result="error"}, no
//   values, the agent keeps running, and real output afterwards measures again;
// - the config file deleted while the agent runs: the old config keeps measuring.
// Covered elsewhere (not repeated here): a missing ping or iperf3 (agent-cli.test.ts), an
// unreachable or silent peer giving loss 1 and no RTT (agent-veth.test.ts), an invalid config on
// reload (agent-veth.test.ts, agent-config-reload.test.ts).
import { chmod, mkdir, mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { samples, sampleValue } from '../helpers/promText.js';
import { built, describeWithCapabilities, iperf3, itWithCapabilities, missingCapabilities, netns, ping, setpriv, type Check } from '../helpers/capability.js';
import { waitFor } from '../helpers/waitFor.js';
import { addVethPair } from '../helpers/vethPair.js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { addNetns, deleteLink, deleteNetns, inNetns } from '../../scenarios/lab/ip.js';
import { linksReportSchema, type LinksReport } from '../../src/linkMetrics.js';

const BIN = new URL('../../bin/lpm.js', import.meta.url).pathname;
const NOBODY = 65534;
const missing = await missingCapabilities([netns(), built(), ping(), iperf3()]);
// The unprivileged run needs setpriv (util-linux) and a checkout that user `nobody` can read.
const asNobody = ['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', '--no-new-privs'];
const nobodyRunsLpm: Check = async () =>
  (await execa(asNobody[0]!, [...asNobody.slice(1), process.execPath, BIN, '--help'], { reject: false })).exitCode === 0
    ? undefined
    : `user nobody able to run ${BIN} (a checkout in a private directory?)`;
const missingUnprivileged = missing.length > 0 ? [] : await missingCapabilities([setpriv(), nobodyRunsLpm]);

const TAG = `${process.pid % 1000}`;
const NODES = [
  { name: 'node-a', ns: `lpmflt-${TAG}a`, overlay: '10.231.0.1', host: '10.232.1.1', agentIp: '10.232.1.2', hostLink: `lpmflt${TAG}ha`, nsLink: `lpmflt${TAG}na` },
  { name: 'node-b', ns: `lpmflt-${TAG}b`, overlay: '10.231.0.2', host: '10.232.2.1', agentIp: '10.232.2.2', hostLink: `lpmflt${TAG}hb`, nsLink: `lpmflt${TAG}nb` },
] as const;
/** A namespace without links, for the start-up check as an unprivileged user. */
const PRIV_NS = `lpmflt-${TAG}p`;
const OVERLAY_A = `lpmflt${TAG}oa`;
const OVERLAY_B = `lpmflt${TAG}ob`;
const PORT = 9105;
/** The garbage agent (node-g) shares node-a's namespace on other ports. */
const G_PORT = 9106;
const G_IPERF3_PORT = 5202;

type Node = (typeof NODES)[number];
const procs: Array<{ name: string; proc: ResultPromise }> = [];
let dir = '';

function agentConfig(o: { node: string; overlay: string; listen: string; target: { name: string; address: string }; iperf3Port?: number }): string {
  return [
    `node: ${o.node}`,
    `address: ${o.overlay}`,
    'network: lpm-test',
    `listen: ${o.listen}`,
    'targets:',
    `  - { name: ${o.target.name}, address: ${o.target.address} }`,
    `iperf3: { port: ${o.iperf3Port ?? 5201}, idleTimeout: 10s }`,
    'measurements:',
    '  - type: rtt',
    '    interval: 1s',
    '    ping: { count: 3, spacing: 0.2s, timeout: 1s }',
    '  - type: bandwidth',
    '    interval: 1s',
    '    iperf3: { duration: 1s, omit: 0 }',
    '',
  ].join('\n');
}

async function get(base: string, path: string): Promise<{ status: number; text: string }> {
  const r = await fetch(base + path, { signal: AbortSignal.timeout(5000) });
  return { status: r.status, text: await r.text() };
}
const links = async (base: string): Promise<LinksReport> => linksReportSchema.parse(JSON.parse((await get(base, '/api/v1/links')).text));


async function nsPids(ns: string): Promise<number[]> {
  const r = await execa('ip', ['netns', 'pids', ns], { reject: false });
  return String(r.stdout).split('\n').filter(Boolean).map(Number);
}

async function procInfo(pid: number): Promise<{ argv: string[]; ppid: number } | undefined> {
  try {
    const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').filter(Boolean);
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    return { argv, ppid };
  } catch {
    return undefined;
  }
}

function startAgent(name: string, ns: string, config: string, opts: { env?: Record<string, string>; user?: boolean; logLevel?: string } = {}): ResultPromise {
  // setpriv: the uid/gid of nobody, no supplementary groups, and no_new_privs so ping's file
  // capability (cap_net_raw) is not granted: an agent container without NET_RAW.
  const user = opts.user ? asNobody : [];
  const [cmd, args] = inNetns(ns, [...user, process.execPath, BIN, 'agent', '--config', config, '--log-level', opts.logLevel ?? 'info']);
  const proc = execa(cmd, args, { reject: false, stdin: 'ignore', all: true, buffer: true, ...(opts.env ? { env: opts.env } : {}) });
  procs.push({ name, proc });
  return proc;
}

async function cleanup(): Promise<void> {
  for (const { proc } of procs) if (proc.pid && proc.exitCode === null) proc.kill('SIGKILL');
  await Promise.allSettled(procs.map((p) => p.proc));
  for (const ns of [...NODES.map((n) => n.ns), PRIV_NS]) {
    // Whatever is left in the namespace (an orphaned iperf3) dies with it.
    for (const pid of await nsPids(ns)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await deleteNetns(ns).catch(() => undefined);
  }
  for (const n of NODES) await deleteLink(n.hostLink).catch(() => undefined);
  if (dir) await rm(dir, { recursive: true, force: true });
}

describeWithCapabilities('agent faults', missing, () => {
  const base = (n: Node, port = PORT) => `http://${n.agentIp}:${port}`;
  const [A, B] = NODES;
  const G = base(A, G_PORT);
  let garbagePing = '';
  let garbageIperf3 = '';
  let gConfig = '';

  beforeAll(async () => {
    await cleanup();
    dir = await mkdtemp(join(tmpdir(), 'lpmflt-'));
    await chmod(dir, 0o755); // the unprivileged agent reads its config from here
    // node-a and node-b on the overlay; management links from the root namespace to their agents
    await addVethPair(NODES, [OVERLAY_A, OVERLAY_B]);
    // Two real agents measuring each other.
    for (const [self, other] of [
      [A, B],
      [B, A],
    ] as const) {
      const file = join(dir, `${self.name}.yaml`);
      await writeFile(file, agentConfig({ node: self.name, overlay: self.overlay, listen: `0.0.0.0:${PORT}`, target: { name: other.name, address: other.overlay } }));
      // In the background (reject: false): cleanup() kills and awaits it.
      void startAgent(self.name, self.ns, file);
    }

    // node-g: an agent whose ping and iperf3 client print what the test puts in a file; with the
    // file empty they are the real tools. Its iperf3 server is always the real one.
    const which = async (tool: string) => (await execa('sh', ['-c', 'command -v "$0"', tool])).stdout.trim();
    const [realPing, realIperf3] = [await which('ping'), await which('iperf3')];
    const fakeBin = join(dir, 'fake-bin');
    await mkdir(fakeBin);
    garbagePing = join(dir, 'ping.out');
    garbageIperf3 = join(dir, 'iperf3.out');
    await writeFile(garbagePing, '');
    await writeFile(garbageIperf3, '');
    // Start-up checks (-V, one echo to 127.0.0.1) always get the real ping: the fault under test
    // is garbage from a measurement, not at start-up.
    await writeFile(
      join(fakeBin, 'ping'),
      `#!/bin/sh\ncase " $* " in *" -V "*|*" 127.0.0.1 "*) exec ${realPing} "$@";; esac\nif [ -s ${garbagePing} ]; then cat ${garbagePing}; exit 0; fi\nexec ${realPing} "$@"\n`,
      { mode: 0o755 },
    );
    await writeFile(
      join(fakeBin, 'iperf3'),
      `#!/bin/sh\nif [ "$1" != "-s" ] && [ -s ${garbageIperf3} ]; then cat ${garbageIperf3}; exit 0; fi\nexec ${realIperf3} "$@"\n`,
      { mode: 0o755 },
    );
    gConfig = join(dir, 'node-g.yaml');
    await writeFile(
      gConfig,
      agentConfig({
        node: 'node-g',
        overlay: A.overlay,
        listen: `${A.agentIp}:${G_PORT}`,
        target: { name: B.name, address: B.overlay },
        iperf3Port: G_IPERF3_PORT,
      }),
    );
    void startAgent('node-g', A.ns, gConfig, { env: { PATH: `${fakeBin}:${process.env.PATH ?? '/usr/bin:/bin'}` } });
    // node-g's bandwidth tests go to node-b on its own port: a plain iperf3 server there.
    const [cmd, args] = inNetns(B.ns, [realIperf3, '-s', '-p', String(G_IPERF3_PORT), '-B', B.overlay, '--idle-timeout', '10']);
    procs.push({ name: 'iperf3 for node-g', proc: execa(cmd, args, { reject: false, stdin: 'ignore', buffer: false }) });

    for (const url of [base(A), base(B), G])
      await waitFor(`${url} ready`, async () => ((await get(url, '/readyz')).status === 200 ? true : undefined), 20_000);
  });

  afterAll(async () => {
    await cleanup();
  });

  itWithCapabilities('ping not permitted: the agent refuses to start, naming ping and the reason; with the group allowed it starts and measures, without any capability', missingUnprivileged, async () => {
    await addNetns(PRIV_NS);
    // ICMP sockets closed to every group (the kernel default in a new namespace; set explicitly).
    await execa(...inNetns(PRIV_NS, ['sysctl', '-q', '-w', 'net.ipv4.ping_group_range=1 0']));
    const file = join(dir, 'priv.yaml');
    await writeFile(file, 'node: node-p\naddress: 127.0.0.1\nlisten: 127.0.0.1:0\ntargets:\n  - { name: node-q, address: 127.0.0.2 }\nmeasurements:\n  - { type: rtt, interval: 1s, ping: { count: 2, spacing: 0.2s } }\n', { mode: 0o644 });
    const denied = await startAgent('node-p denied', PRIV_NS, file, { user: true });
    expect(denied.exitCode, String(denied.all)).toBe(1);
    expect(String(denied.all)).toMatch(/lpm agent: ping is not permitted to send ICMP echo \(ping: socket: Operation not permitted\)/);
    expect(String(denied.all)).toMatch(/grant CAP_NET_RAW, or allow its group in net\.ipv4\.ping_group_range/);

    // The remedy the message names: allow nobody's group to open ICMP echo sockets. The same
    // user, still without any capability, then starts and measures (towards 127.0.0.2).
    await execa(...inNetns(PRIV_NS, ['sysctl', '-q', '-w', `net.ipv4.ping_group_range=${NOBODY} ${NOBODY}`]));
    const allowed = startAgent('node-p allowed', PRIV_NS, file, { user: true, logLevel: 'debug' });
    let out = '';
    allowed.all?.on('data', (c: Buffer) => void (out += c.toString('utf8')));
    await waitFor('unprivileged agent measuring', async () => (/"type":"rtt","result":"success"/.test(out) ? true : undefined), 30_000);
    expect(out).toMatch(/"tools found"/);
    allowed.kill('SIGTERM');
    expect((await allowed).exitCode).toBe(0);
  });

  it('iperf3 server killed: restarted, counted, and the peer measures bandwidth towards it again', async () => {
    // Before: node-b has measured bandwidth to node-a, node-a's server has never restarted.
    await waitFor('node-b -> node-a bandwidth', async () =>
      (await links(base(B))).links.find((l) => l.target === A.name)?.metrics.bandwidth_bytes_per_second ? true : undefined,
    );
    const before = (await get(base(A), '/metrics')).text;
    expect(sampleValue(before, 'lpm_iperf3_server_restarts_total')).toBe(0);
    expect(sampleValue(before, 'lpm_iperf3_server_up')).toBe(1);

    // node-a's own `iperf3 -s` (a child of its agent, not node-g's on port 5202).
    const agentA = procs.find((p) => p.name === A.name)!.proc.pid!;
    const servers: number[] = [];
    for (const pid of await nsPids(A.ns)) {
      const info = await procInfo(pid);
      if (info && info.ppid === agentA && info.argv[0]?.endsWith('iperf3') && info.argv.includes('-s')) servers.push(pid);
    }
    expect(servers).toHaveLength(1);
    const killedAt = Date.now() / 1000;
    process.kill(servers[0]!, 'SIGKILL');

    const text = await waitFor('restart counted and server up again', async () => {
      const t = (await get(base(A), '/metrics')).text;
      return sampleValue(t, 'lpm_iperf3_server_restarts_total') === 1 && sampleValue(t, 'lpm_iperf3_server_up') === 1 ? t : undefined;
    }, 20_000);
    expect(sampleValue(text, 'lpm_iperf3_server_restarts_total')).toBe(1);
    expect((await get(base(A), '/readyz')).status).toBe(200);
    // A new server process, under the same agent.
    const now: number[] = [];
    for (const pid of await nsPids(A.ns)) {
      const info = await procInfo(pid);
      if (info && info.ppid === agentA && info.argv[0]?.endsWith('iperf3') && info.argv.includes('-s')) now.push(pid);
    }
    expect(now).toHaveLength(1);
    expect(now[0]).not.toBe(servers[0]);

    // node-b's next bandwidth test towards node-a succeeds (a measurement after the kill).
    const bw = await waitFor('node-b -> node-a bandwidth measured after the restart', async () => {
      const link = (await links(base(B))).links.find((l) => l.target === A.name);
      const v = link?.metrics.bandwidth_bytes_per_second;
      return v && v.timestamp > killedAt && link.lastResults.bandwidth?.result === 'success' ? v : undefined;
    }, 60_000);
    expect(bw.value).toBeGreaterThan(1e6 / 8);
  });

  it('ping output garbage: an error result, counted, no new values; readable output measures again', async () => {
    const labels = { source_node: 'node-g', target_node: 'node-b', network: 'lpm-test', metric: 'rtt' };
    const count = async (result: string) => sampleValue((await get(G, '/metrics')).text, 'lpm_measurements_total', { ...labels, result }) ?? 0;
    // First a real measurement, so "no RTT value" below means "removed", not "never had one".
    await waitFor('node-g -> node-b RTT', async () =>
      (await links(G)).links.find((l) => l.target === B.name)?.metrics.rtt_seconds ? true : undefined,
    );

    await writeFile(garbagePing, '\u0000\u00ff\u00fe binary junk\nPING??? 10.231.0.2 -> 12 parsecs\n');
    const errorsBefore = await count('error');
    const junk = await waitFor('a garbage ping run recorded as an error', async () => {
      const link = (await links(G)).links.find((l) => l.target === B.name);
      return link?.lastResults.rtt?.result === 'error' && /parsecs/.test(link.lastResults.rtt.error ?? '') ? link : undefined;
    }, 20_000);
    expect(await count('error')).toBeGreaterThan(errorsBefore);
    // An error sets no value: the last real one stays, with its own timestamp (it ages into stale).
    expect(junk.metrics.rtt_seconds!.timestamp).toBeLessThan(junk.lastResults.rtt!.timestamp);

    // Statistics that do not add up (more received than sent) are an error too, not a measurement.
    await writeFile(garbagePing, 'PING x\n--- x ping statistics ---\n3 packets transmitted, 9 received, 0% packet loss, time 2ms\nrtt min/avg/max/mdev = 9/1/0/0 ms\n');
    const odd = await waitFor('inconsistent statistics recorded as an error', async () => {
      const link = (await links(G)).links.find((l) => l.target === B.name);
      return link?.lastResults.rtt?.result === 'error' && /do not add up/.test(link.lastResults.rtt.error ?? '') ? link : undefined;
    }, 20_000);
    expect(odd.metrics.rtt_seconds!.value).toBe(junk.metrics.rtt_seconds!.value);
    const metricsText = (await get(G, '/metrics')).text;
    expect(sampleValue(metricsText, 'lpm_measurements_total', { ...labels, result: 'error' })).toBeGreaterThanOrEqual(errorsBefore + 2);
    expect((await get(G, '/healthz')).status).toBe(200);

    // Real output again: the next run is a success with a new RTT.
    const garbageAt = odd.lastResults.rtt!.timestamp;
    await writeFile(garbagePing, '');
    await waitFor('node-g -> node-b measured again', async () => {
      const link = (await links(G)).links.find((l) => l.target === B.name);
      return link?.lastResults.rtt?.result === 'success' && link.metrics.rtt_seconds!.timestamp > garbageAt ? true : undefined;
    }, 20_000);
  });

  it('iperf3 output garbage: an error result, counted, no new value; readable output measures again', async () => {
    const labels = { source_node: 'node-g', target_node: 'node-b', network: 'lpm-test', metric: 'bandwidth' };
    const count = async (result: string) => sampleValue((await get(G, '/metrics')).text, 'lpm_measurements_total', { ...labels, result }) ?? 0;
    const real = await waitFor('node-g -> node-b bandwidth', async () =>
      (await links(G)).links.find((l) => l.target === B.name)?.metrics.bandwidth_bytes_per_second,
    );
    const errorsBefore = await count('error');
    await writeFile(garbageIperf3, '{"start": {}, "end": "not what iperf3 prints"\n');
    const link = await waitFor('a garbage iperf3 run recorded as an error', async () => {
      const l = (await links(G)).links.find((x) => x.target === B.name);
      return l?.lastResults.bandwidth?.result === 'error' && /iperf3 output is not JSON/.test(l.lastResults.bandwidth.error ?? '') ? l : undefined;
    }, 40_000);
    expect(await count('error')).toBeGreaterThan(errorsBefore);
    expect(link.metrics.bandwidth_bytes_per_second).toEqual(real); // untouched by the error
    expect((await get(G, '/healthz')).status).toBe(200);

    const garbageAt = link.lastResults.bandwidth!.timestamp;
    await writeFile(garbageIperf3, '');
    await waitFor('node-g -> node-b bandwidth measured again', async () => {
      const l = (await links(G)).links.find((x) => x.target === B.name);
      return l?.lastResults.bandwidth?.result === 'success' && l.metrics.bandwidth_bytes_per_second!.timestamp > garbageAt ? true : undefined;
    }, 40_000);
  });

  it('config file deleted while running: the old config keeps measuring', async () => {
    const labels = { source_node: 'node-g', target_node: 'node-b', network: 'lpm-test', metric: 'rtt', result: 'success' };
    const successes = async () => sampleValue((await get(G, '/metrics')).text, 'lpm_measurements_total', labels) ?? 0;
    const reloads = async () => samples((await get(G, '/metrics')).text).filter((s) => s.name === 'lpm_config_reloads_total');
    const reloadsBefore = await reloads();
    await unlink(gConfig);
    // The watcher sees the delete; SIGHUP makes sure the file is checked at least once more.
    await new Promise((r) => setTimeout(r, 1000));
    procs.find((p) => p.name === 'node-g')!.proc.kill('SIGHUP');
    const before = await successes();
    await waitFor('node-g keeps measuring without its config file', async () => ((await successes()) >= before + 2 ? true : undefined), 20_000);
    expect((await links(G)).links.map((l) => l.target)).toEqual([B.name]);
    expect(await reloads()).toEqual(reloadsBefore); // neither a success nor an error: nothing was applied
    expect(procs.find((p) => p.name === 'node-g')!.proc.exitCode).toBeNull();
  });
});
