// An L2S-M switch pod's LPM sidecar, replayed in the lab: each node runs lpm with the original
// command line (`collector --config_file=FILE`) and an original-format JSON config whose
// probeInterface does not exist yet, as the OVS port the switch creates after the pod started.
// Checked: /readyz 503 names the missing interface; once the test creates it (a veth on the
// node's bridge, with the probe address), the agent becomes ready, binds its iperf3 servers to it
// (TCP 5201, UDP 5202), measures over it (ping -I, iperf3 --bind-dev) through the emulated links,
// and serves on :8090 both the original metric names (net_rtt_ms, net_jitter_ms,
// net_throughput_kbps, original units) and lpm's.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { inNetns, ip } from '../../scenarios/lab/ip.js';
import { labDown } from '../../scenarios/lab/lab.js';
import { readState, type LabState } from '../../scenarios/lab/state.js';
import { built, describeWithCapabilities, iperf3, missingCapabilities, netns, ping } from '../helpers/capability.js';
import { samples, sampleValue } from '../helpers/promText.js';
import { waitFor } from '../helpers/waitFor.js';

const ROOT = join(import.meta.dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'lpm.js');
const LAB = 'tcompat';
const PROBE = 'lpmprobe';
const PROBE_ADDRESS: Record<string, string> = { a: '10.201.0.2', b: '10.201.0.3' };
const missing = await missingCapabilities([netns(), built(), ping(), iperf3()]);

let dir = '';
let state: LabState | undefined;
const agents: ResultPromise[] = [];

const url = (node: string, path: string) => `http://${state!.plan.nodes.find((n) => n.name === node)!.underlayAddress}:8090${path}`;
async function get(node: string, path: string): Promise<{ status: number; text: string }> {
  const r = await fetch(url(node, path), { signal: AbortSignal.timeout(3000) });
  return { status: r.status, text: await r.text() };
}
const nsOf = (node: string) => state!.plan.nodes.find((n) => n.name === node)!.netns;

/** The original config of one node, as the L2S-M operator writes it (every interval 1 minute). */
function originalConfig(node: string, other: string): string {
  return JSON.stringify(
    {
      Nodename: node,
      ipAddress: `${PROBE_ADDRESS[node]}/24`,
      probeInterface: PROBE,
      spreadFactor: 0.2,
      MetricsNeighbourNodes: [{ name: other, ip: PROBE_ADDRESS[other], rttInterval: 1, jitterInterval: 1, throughputInterval: 1 }],
    },
    null,
    2,
  );
}

/** The switch creating its probe port: a veth on the node's bridge carrying the probe address. */
async function createProbePort(node: string): Promise<void> {
  const ns = nsOf(node);
  const mtu = String((JSON.parse(await ip(['-j', 'link', 'show', 'br0'], ns)) as Array<{ mtu: number }>)[0]!.mtu);
  // answer ARP only on the interface that has the address: the bridge must not claim the probe's
  await execa(...inNetns(ns, ['sysctl', '-q', '-w', 'net.ipv4.conf.all.arp_ignore=1']));
  await ip(['link', 'add', PROBE, 'mtu', mtu, 'type', 'veth', 'peer', 'name', `${PROBE}-br`, 'mtu', mtu], ns);
  await ip(['link', 'set', `${PROBE}-br`, 'master', 'br0', 'up'], ns);
  await ip(['addr', 'add', `${PROBE_ADDRESS[node]}/24`, 'dev', PROBE], ns);
  await ip(['link', 'set', PROBE, 'up'], ns);
  await execa(...inNetns(ns, ['ethtool', '-K', PROBE, 'tx', 'off']));
}

async function cleanup(): Promise<void> {
  for (const a of agents) if (a.exitCode === null) a.kill('SIGKILL');
  await Promise.allSettled(agents);
  await labDown(LAB).catch(() => undefined);
  if (dir) await rm(dir, { recursive: true, force: true });
}

describeWithCapabilities('original LPM config in the lab: late probe interface, both metric names', missing, () => {
  beforeAll(async () => {
    await labDown(LAB).catch(() => undefined);
    dir = await mkdtemp(join(tmpdir(), 'lpm-compat-lab-'));
    const topology = join(dir, 'lab.yaml');
    await writeFile(
      topology,
      `name: ${LAB}
nodes: [a, b]
links:
  - { from: a, to: b, delay: 3ms, rate: 20Mbps }
  - { from: b, to: a, delay: 5ms, rate: 20Mbps }
`,
    );
    await execa(process.execPath, [BIN, 'lab', 'up', topology], { env: { LPM_LOG_LEVEL: 'warn' } });
    state = await readState(LAB);
    for (const [node, other] of [
      ['a', 'b'],
      ['b', 'a'],
    ] as const) {
      const file = join(dir, `${node}-lpm-config.json`);
      await writeFile(file, originalConfig(node, other));
      // the operator's command line, `=` form included
      const [cmd, args] = inNetns(nsOf(node), [process.execPath, BIN, 'collector', `--config_file=${file}`, '--log-level', 'info']);
      agents.push(execa(cmd, args, { reject: false, stdin: 'ignore', all: true, buffer: true }));
    }
  });

  afterAll(cleanup);

  it('waits for the probe interface: /readyz 503 with the reason, no probes, no servers', async () => {
    for (const node of ['a', 'b']) {
      const r = await waitFor(`${node} answers on :8090`, async () => get(node, '/readyz'), 20_000);
      expect(r.status).toBe(503);
      expect(JSON.parse(r.text).reasons).toContain(`interface "${PROBE}" not found: waiting for it to appear`);
    }
    await new Promise((r) => setTimeout(r, 2000));
    const ss = await execa(...inNetns(nsOf('a'), ['ss', '-H', '-ltnu']));
    expect(ss.stdout).not.toMatch(/:520[12]\b/);
    expect(samples((await get('a', '/metrics')).text).filter((s) => s.name.startsWith('net_'))).toEqual([]);
  });

  it('once the interface appears: ready, iperf3 servers bound to it on 5201 and 5202', async () => {
    for (const node of ['a', 'b']) await createProbePort(node);
    for (const node of ['a', 'b'])
      await waitFor(`${node} ready`, async () => ((await get(node, '/readyz')).status === 200 ? true : undefined), 20_000);
    const ss = await execa(...inNetns(nsOf('a'), ['ss', '-H', '-ltn']));
    expect(ss.stdout).toMatch(new RegExp(`%${PROBE}:5201\\b`));
    expect(ss.stdout).toMatch(new RegExp(`%${PROBE}:5202\\b`));
  });

  it('measures RTT over the probe interface; net_rtt_ms (ms) next to lpm_link_rtt_seconds', async () => {
    const text = await waitFor(
      'a -> b RTT under both names',
      async () => {
        const t = (await get('a', '/metrics')).text;
        return sampleValue(t, 'net_rtt_ms', { source_node: 'a', target_node: 'b' }) !== undefined &&
          sampleValue(t, 'lpm_link_rtt_seconds', { source_node: 'a', target_node: 'b' }) !== undefined
          ? t
          : undefined;
      },
      60_000,
      500,
    );
    const ms = sampleValue(text, 'net_rtt_ms', { source_node: 'a', target_node: 'b' })!;
    const s = sampleValue(text, 'lpm_link_rtt_seconds', { source_node: 'a', target_node: 'b' })!;
    expect(ms).toBeCloseTo(s * 1000, 6);
    // 3 ms there and 5 ms back through the emulated links: the probes went over the overlay
    expect(Math.abs(ms - 8)).toBeLessThan(2);
    const rtt = samples(text).find((x) => x.name === 'net_rtt_ms')!;
    expect(Object.keys(rtt.labels).sort()).toEqual(['source_node', 'target_node']);
  });

  it('measures throughput (TCP 5201) and UDP jitter (5202) in the original units', async () => {
    const text = await waitFor(
      'a -> b throughput and jitter',
      async () => {
        const t = (await get('a', '/metrics')).text;
        const labels = { source_node: 'a', target_node: 'b' };
        return sampleValue(t, 'net_throughput_kbps', labels) !== undefined && sampleValue(t, 'net_jitter_ms', labels) !== undefined ? t : undefined;
      },
      170_000,
      1000,
    );
    const labels = { source_node: 'a', target_node: 'b' };
    const kbps = sampleValue(text, 'net_throughput_kbps', labels)!;
    const bytes = sampleValue(text, 'lpm_link_bandwidth_bytes_per_second', labels)!;
    expect(kbps).toBeCloseTo((bytes * 8) / 1000, 3);
    // the emulated link carries 20 Mbit/s
    expect(kbps).toBeGreaterThan(5_000);
    expect(kbps).toBeLessThan(22_000);
    const jitter = sampleValue(text, 'net_jitter_ms', labels)!;
    expect(jitter).toBeGreaterThanOrEqual(0);
    expect(jitter).toBeLessThan(50);
    // every udp-jitter test went to b's UDP server: none of a's ended in error
    expect(sampleValue(text, 'lpm_measurements_total', { ...labels, metric: 'udp-jitter', result: 'error' }) ?? 0).toBe(0);
  }, 200_000);
});
