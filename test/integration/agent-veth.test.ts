// Two real agents (`node bin/lpm.js agent`, built first with `npm run build`) in two network
// namespaces joined by a veth pair, measuring each other with real ping and iperf3. Each
// namespace also has a veth to the root namespace, so this test reads the agents' HTTP
// endpoints directly. Checked over HTTP: /metrics carries RTT, loss and bandwidth for both
// directions under the GUIDE.md names, /api/v1/links agrees with it, an unreachable target shows
// loss 1 and no RTT, a ConfigMap-style config swap removes a target's series, an invalid config
// is refused while the agent keeps running, and SIGTERM stops the agent and its iperf3 server.
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, rename, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { samples, sampleValue } from '../helpers/promText.js';
import { built, describeWithCapabilities, iperf3, missingCapabilities, netns, ping } from '../helpers/capability.js';
import { waitFor } from '../helpers/waitFor.js';
import { addVethPair } from '../helpers/vethPair.js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { deleteNetns, deleteLink, inNetns } from '../../scenarios/lab/ip.js';
import { linksReportSchema, type LinksReport } from '../../src/linkMetrics.js';

const missing = await missingCapabilities([netns(), built(), ping(), iperf3()]);

const BIN = new URL('../../bin/lpm.js', import.meta.url).pathname;
const TAG = `${process.pid % 1000}`;
const NODES = [
  { name: 'node-a', ns: `lpmag-${TAG}a`, overlay: '10.213.0.1', host: '10.214.1.1', agentIp: '10.214.1.2', hostLink: `lpmag${TAG}ha`, nsLink: `lpmag${TAG}na` },
  { name: 'node-b', ns: `lpmag-${TAG}b`, overlay: '10.213.0.2', host: '10.214.2.1', agentIp: '10.214.2.2', hostLink: `lpmag${TAG}hb`, nsLink: `lpmag${TAG}nb` },
] as const;
const OVERLAY_A = `lpmag${TAG}oa`;
const OVERLAY_B = `lpmag${TAG}ob`;
const GHOST = { name: 'node-c', address: '10.213.0.3' }; // on the overlay subnet, nobody answers
const PORT = 9105;

const procs: ResultPromise[] = [];
let dir = '';

function agentConfig(self: (typeof NODES)[number], targets: Array<{ name: string; address: string }>): string {
  return [
    `node: ${self.name}`,
    `address: ${self.overlay}`,
    `network: lpm-test`,
    `listen: 0.0.0.0:${PORT}`,
    'targets:',
    ...targets.map((t) => `  - { name: ${t.name}, address: ${t.address} }`),
    'iperf3: { port: 5201, idleTimeout: 10s }',
    'measurements:',
    '  - type: rtt',
    '    interval: 1s',
    '    ping: { count: 5, spacing: 0.2s, timeout: 1s }',
    '  - type: bandwidth',
    '    interval: 1s',
    '    iperf3: { duration: 1s, omit: 0 }',
    '',
  ].join('\n');
}

/** Writes a config the way the kubelet updates a ConfigMap volume: a new dir, then an atomic `..data` swap. */
async function writeConfigMap(nodeDir: string, text: string, version: number): Promise<void> {
  const v = join(nodeDir, `..v${version}`);
  await mkdir(v, { recursive: true });
  await writeFile(join(v, 'agent.yaml'), text);
  const tmp = join(nodeDir, '..data_tmp');
  await rm(tmp, { force: true });
  await symlink(`..v${version}`, tmp);
  await rename(tmp, join(nodeDir, '..data'));
  if (!existsSync(join(nodeDir, 'agent.yaml'))) await symlink('..data/agent.yaml', join(nodeDir, 'agent.yaml'));
}

const url = (n: (typeof NODES)[number], path: string) => `http://${n.agentIp}:${PORT}${path}`;

async function get(n: (typeof NODES)[number], path: string): Promise<{ status: number; text: string }> {
  const r = await fetch(url(n, path), { signal: AbortSignal.timeout(5000) });
  return { status: r.status, text: await r.text() };
}

async function links(n: (typeof NODES)[number]): Promise<LinksReport> {
  return linksReportSchema.parse(JSON.parse((await get(n, '/api/v1/links')).text));
}


function linkValue(text: string, name: string, source: string, target: string, extra: Record<string, string> = {}): number | undefined {
  return sampleValue(text, name, { ...extra, source_node: source, target_node: target, network: 'lpm-test' });
}

async function cleanup(): Promise<void> {
  for (const p of procs) if (p.pid && p.exitCode === null) p.kill('SIGKILL');
  await Promise.allSettled(procs);
  for (const n of NODES) {
    // Whatever is left in the namespace (an orphaned iperf3) dies with it.
    const pids = await execa('ip', ['netns', 'pids', n.ns], { reject: false });
    for (const pid of String(pids.stdout).split('\n').filter(Boolean)) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await deleteNetns(n.ns).catch(() => undefined);
    await deleteLink(n.hostLink).catch(() => undefined);
  }
  if (dir) await rm(dir, { recursive: true, force: true });
}

describeWithCapabilities('two agents over a veth pair', missing, () => {
  beforeAll(async () => {
    await cleanup();
    dir = await mkdtemp(join(tmpdir(), 'lpmag-'));
    // node-a and node-b on the overlay; management links from the root namespace to their agents
    await addVethPair(NODES, [OVERLAY_A, OVERLAY_B]);
    const [a, b] = NODES;
    const targetsOf = { 'node-a': [{ name: b.name, address: b.overlay }, GHOST], 'node-b': [{ name: a.name, address: a.overlay }, GHOST] };
    for (const n of NODES) {
      const nodeDir = join(dir, n.name);
      await mkdir(nodeDir);
      await writeConfigMap(nodeDir, agentConfig(n, targetsOf[n.name]), 1);
      const [cmd, args] = inNetns(n.ns, [process.execPath, BIN, 'agent', '--config', join(nodeDir, 'agent.yaml'), '--log-level', 'info']);
      const p = execa(cmd, args, { reject: false, stdin: 'ignore', all: true, buffer: true });
      procs.push(p);
    }
    for (const n of NODES) await waitFor(`${n.name} ready`, async () => ((await get(n, '/readyz')).status === 200 ? true : undefined), 20_000);
  });

  afterAll(async () => {
    await cleanup();
  });

  it('serves /healthz and /readyz', async () => {
    for (const n of NODES) {
      expect((await get(n, '/healthz')).status).toBe(200);
      expect(JSON.parse((await get(n, '/readyz')).text)).toEqual({ status: 'ready' });
    }
  });

  it('measures RTT, loss and bandwidth in both directions; /metrics and /api/v1/links agree', async () => {
    for (const [self, other] of [
      [NODES[0], NODES[1]],
      [NODES[1], NODES[0]],
    ] as const) {
      // Wait until both measurement types have succeeded at least once on this agent.
      await waitFor(`${self.name} -> ${other.name} rtt and bandwidth`, async () => {
        const link = (await links(self)).links.find((l) => l.target === other.name);
        return link?.metrics.rtt_seconds && link.metrics.bandwidth_bytes_per_second ? link : undefined;
      });
      // Read links, metrics, links; compare only when no run finished in between.
      const { report, text } = await waitFor(`${self.name}: a stable pair of reads`, async () => {
        const before = await links(self);
        const metricsText = (await get(self, '/metrics')).text;
        const after = await links(self);
        return JSON.stringify(before.links) === JSON.stringify(after.links) ? { report: after, text: metricsText } : undefined;
      });
      expect(report.node).toBe(self.name);
      expect(report.network).toBe('lpm-test');
      const link = report.links.find((l) => l.target === other.name)!;
      expect(link).toMatchObject({ source: self.name, target: other.name, network: 'lpm-test', address: other.overlay });
      const m = link.metrics;
      // A veth inside one machine: an RTT well under a second even on a busy 2-core box, no loss,
      // and far more than 1 Mbit/s (the bounds only rule out unit mistakes, not slow machines).
      expect(m.rtt_seconds!.value).toBeGreaterThan(0);
      expect(m.rtt_seconds!.value).toBeLessThan(1);
      expect(m.rtt_min_seconds!.value).toBeLessThanOrEqual(m.rtt_seconds!.value);
      expect(m.rtt_max_seconds!.value).toBeGreaterThanOrEqual(m.rtt_seconds!.value);
      expect(m.packet_loss_ratio!.value).toBe(0);
      expect(m.bandwidth_bytes_per_second!.value).toBeGreaterThan(1e6 / 8);
      for (const key of ['rtt_seconds', 'rtt_min_seconds', 'rtt_max_seconds', 'jitter_seconds', 'packet_loss_ratio', 'bandwidth_bytes_per_second'] as const)
        expect(linkValue(text, `lpm_link_${key}`, self.name, other.name), key).toBe(m[key]!.value);
      expect(linkValue(text, 'lpm_link_last_measurement_timestamp_seconds', self.name, other.name, { metric: 'rtt' })).toBe(
        link.lastResults.rtt!.timestamp,
      );
      expect(linkValue(text, 'lpm_link_last_measurement_timestamp_seconds', self.name, other.name, { metric: 'bandwidth' })).toBe(
        link.lastResults.bandwidth!.timestamp,
      );
      expect(linkValue(text, 'lpm_measurements_total', self.name, other.name, { metric: 'rtt', result: 'success' })).toBeGreaterThanOrEqual(1);
      expect(linkValue(text, 'lpm_measurements_total', self.name, other.name, { metric: 'bandwidth', result: 'success' })).toBeGreaterThanOrEqual(1);
      expect(linkValue(text, 'lpm_probe_rtt_seconds_count', self.name, other.name)).toBeGreaterThanOrEqual(5);
      expect(text).toMatch(/^lpm_build_info\{version="\d+\.\d+\.\d+[^"]*"\} 1$/m);
      expect(text).toMatch(/^lpm_iperf3_server_up 1$/m);
    }
  });

  it('an unreachable peer has loss 1 and no RTT series, in /metrics and in /api/v1/links', async () => {
    const [a] = NODES;
    const link = await waitFor('node-a -> node-c measured', async () =>
      (await links(a)).links.find((l) => l.target === GHOST.name && l.metrics.packet_loss_ratio),
    );
    expect(link.metrics.packet_loss_ratio!.value).toBe(1);
    expect(link.metrics.rtt_seconds).toBeUndefined();
    const text = (await get(a, '/metrics')).text;
    expect(linkValue(text, 'lpm_link_packet_loss_ratio', 'node-a', 'node-c')).toBe(1);
    expect(linkValue(text, 'lpm_link_rtt_seconds', 'node-a', 'node-c')).toBeUndefined();
  });

  it('a peer that stops answering loses its RTT series instead of keeping a stale value', async () => {
    const [a, b] = NODES;
    const sysctl = (v: 0 | 1) => execa(...inNetns(b.ns, ['sysctl', '-q', '-w', `net.ipv4.icmp_echo_ignore_all=${v}`]));
    await sysctl(1);
    try {
      await waitFor('node-a -> node-b RTT gone', async () => {
        const text = (await get(a, '/metrics')).text;
        return linkValue(text, 'lpm_link_packet_loss_ratio', 'node-a', 'node-b') === 1 &&
          linkValue(text, 'lpm_link_rtt_seconds', 'node-a', 'node-b') === undefined
          ? true
          : undefined;
      }, 30_000);
      const link = (await links(a)).links.find((l) => l.target === b.name)!;
      expect(link.metrics.rtt_seconds).toBeUndefined();
      expect(link.metrics.packet_loss_ratio!.value).toBe(1);
    } finally {
      await sysctl(0);
    }
    await waitFor('node-a -> node-b RTT back', async () =>
      (await links(a)).links.find((l) => l.target === b.name)?.metrics.rtt_seconds ? true : undefined,
    30_000);
  });

  it('hot reload: an invalid config is refused and the agent keeps running; a valid swap removes a peer and its series', async () => {
    const [a, b] = NODES;
    const nodeDir = join(dir, a.name);
    await writeConfigMap(nodeDir, agentConfig(a, [{ name: b.name, address: b.overlay }]).replace('interval: 1s', 'interval: soon'), 2);
    const errors = await waitFor('reload error counted', async () => {
      const v = samples((await get(a, '/metrics')).text).find((s) => s.name === 'lpm_config_reloads_total' && s.labels.result === 'error');
      return v && v.value >= 1 ? v.value : undefined;
    }, 15_000);
    expect(errors).toBe(1);
    expect((await links(a)).links.map((l) => l.target)).toContain(GHOST.name); // old config still running

    await writeConfigMap(nodeDir, agentConfig(a, [{ name: b.name, address: b.overlay }]), 3);
    await waitFor('node-c gone from node-a', async () => {
      const text = (await get(a, '/metrics')).text;
      const report = await links(a);
      return !text.includes('target_node="node-c"') && !report.links.some((l) => l.target === GHOST.name) ? true : undefined;
    }, 15_000);
    const text = (await get(a, '/metrics')).text;
    expect(samples(text).find((s) => s.name === 'lpm_config_reloads_total' && s.labels.result === 'success')?.value).toBe(1);
    expect(text).toMatch(/^lpm_targets 1$/m);
    expect(linkValue(text, 'lpm_link_rtt_seconds', 'node-a', 'node-b')).toBeGreaterThan(0);
  });

  it('SIGTERM stops the agent, its iperf3 server and its probes', async () => {
    for (const [i, n] of NODES.entries()) {
      const p = procs[i]!;
      p.kill('SIGTERM');
      const r = await p;
      expect(r.exitCode, String(r.all)).toBe(0);
      expect(String(r.all)).toMatch(/agent stopped/);
      const left = await execa('ip', ['netns', 'pids', n.ns], { reject: false });
      expect(String(left.stdout).trim()).toBe('');
    }
  });
});
