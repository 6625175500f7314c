// The original LPM's command lines and the plan, as a user runs them (built CLI): `lpm agent
// --config lpm-config.json --check` and `lpm collector --config_file FILE --check` print the plan
// without measuring; bad configs are refused with file, line and field; `lpm export
// networktopology --dry-run` prints the object built from agents' reports; `lpm exporter` keeps
// the original's --target flag.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { parseAllDocuments } from 'yaml';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { built, describeWithCapabilities, missingCapabilities } from '../helpers/capability.js';

const BIN = new URL('../../bin/lpm.js', import.meta.url).pathname;
const missing = await missingCapabilities([built()]);
let dir = '';
let agentApi: Server | undefined;
let agentUrl = '';

const lpm = (args: string[], env: Record<string, string> = {}) =>
  execa(process.execPath, [BIN, ...args], { reject: false, env: { LPM_LOG_LEVEL: 'warn', ...env }, timeout: 30_000 });

const ORIGINAL = JSON.stringify(
  {
    Nodename: 'node-a',
    spreadFactor: 0.2,
    ipAddress: '10.0.0.2/24',
    probeInterface: 'lpm-probe',
    MetricsNeighbourNodes: [
      { name: 'node-b', ip: '10.0.0.3', rttInterval: 10, jitterInterval: 5, throughputInterval: 20 },
      { name: 'node-c', ip: '10.0.0.4', rttInterval: 10 },
    ],
  },
  null,
  2,
);

describeWithCapabilities('original LPM command lines (built CLI)', missing, () => {
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lpm-compat-cli-'));
    await writeFile(join(dir, 'lpm-config.json'), ORIGINAL);
    await writeFile(join(dir, 'bad.json'), ORIGINAL.replace('"rttInterval": 10,', '"rttInterval": 10, "probes": 3,'));
    const now = Date.now() / 1000;
    const report = {
      node: 'node-a',
      network: 'lpm-measurement',
      generatedAt: now,
      links: [
        {
          source: 'node-a',
          target: 'node-b',
          network: 'lpm-measurement',
          metrics: { rtt_seconds: { value: 0.0005, timestamp: now }, bandwidth_bytes_per_second: { value: 117_500_000, timestamp: now } },
          lastResults: {},
        },
      ],
    };
    agentApi = createServer((req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(req.url === '/api/v1/links' ? report : {}));
    });
    await new Promise<void>((r) => agentApi!.listen(0, '127.0.0.1', () => r()));
    agentUrl = `http://127.0.0.1:${(agentApi.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise<void>((r) => (agentApi ? agentApi.close(() => r()) : r()));
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('lpm agent --config lpm-config.json --check prints the plan and measures nothing', async () => {
    const r = await lpm(['agent', '--config', join(dir, 'lpm-config.json'), '--check']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/original LPM JSON format, converted\): valid/);
    expect(r.stdout).toMatch(/^interface: lpm-probe /m);
    expect(r.stdout).toMatch(/^listen: 0\.0\.0\.0:8090 /m);
    expect(r.stdout).toMatch(/port 5201 .* --bind-dev lpm-probe/);
    expect(r.stdout).toMatch(/port 5202 .* --bind-dev lpm-probe/);
    expect(r.stdout).toMatch(/^ {2}node-b +10\.0\.0\.3$/m);
    expect(r.stdout).toMatch(/rtt +every 10m +to node-b, node-c /);
    expect(r.stdout).toMatch(/udp-jitter +every 5m +to node-b +iperf3 -c TARGET -p 5202 /);
    expect(r.stdout).toMatch(/node-c: throughputInterval, jitterInterval omitted: off/);
    expect(r.stderr).toBe('');
  });

  it('lpm collector --config_file=FILE --check is the same (the operator\'s form of the flag)', async () => {
    const a = await lpm(['agent', '--config', join(dir, 'lpm-config.json'), '--check']);
    const c = await lpm(['collector', `--config_file=${join(dir, 'lpm-config.json')}`, '--check']);
    expect(c.exitCode, c.stderr).toBe(0);
    expect(c.stdout).toBe(a.stdout);
    const help = await lpm(['collector', '--help']);
    expect(help.stdout).toMatch(/--config_file FILE .*\(default: \/etc\/lpm\/lpm-config\.json\)/);
  });

  it('an unknown key in the original format names file, line and key', async () => {
    for (const args of [
      ['agent', '--config', join(dir, 'bad.json'), '--check'],
      ['collector', '--config_file', join(dir, 'bad.json')],
    ]) {
      const r = await lpm(args);
      expect(r.exitCode).toBe(2);
      expect(r.stderr).toMatch(/bad\.json:7: MetricsNeighbourNodes\[0\]: Unrecognized key\(s\) in object: 'probes'/);
    }
  });

  it('lpm export networktopology --dry-run --once prints the object from the agents\' reports', async () => {
    const r = await lpm(['export', 'networktopology', '--source', 'direct', '--agent', agentUrl, '--namespace', 'swm', '--dry-run', '--once']);
    expect(r.exitCode, r.stderr).toBe(0);
    const [doc] = parseAllDocuments(r.stdout).map((d) => d.toJS() as Record<string, any>);
    expect(doc).toMatchObject({
      apiVersion: 'qos-scheduler.siemens.com/v1alpha1',
      kind: 'NetworkTopology',
      metadata: { name: 'l2sm', namespace: 'swm' },
      spec: { networkImplementation: 'L2SM', physicalBase: '' },
    });
    expect(doc!.spec.links).toEqual([
      { name: 'node-a-node-a', source: 'node-a', target: 'node-a', capabilities: { latencyNanos: '0' } },
      { name: 'node-a-node-b', source: 'node-a', target: 'node-b', capabilities: { bandWidthBits: '940M', latencyNanos: '500000' } },
      { name: 'node-b-node-b', source: 'node-b', target: 'node-b', capabilities: { latencyNanos: '0' } },
    ]);
  });

  it('export and exporter refuse what they cannot do', async () => {
    const noNs = await lpm(['export', 'networktopology', '--source', 'direct', '--agent', agentUrl, '--once'], { TOPOLOGY_NAMESPACE: '' });
    expect(noNs.exitCode).toBe(2);
    expect(noNs.stderr).toMatch(/no namespace: give --namespace NS or set TOPOLOGY_NAMESPACE/);
    const what = await lpm(['export', 'pods']);
    expect(what.exitCode).toBe(2);
    const target = await lpm(['exporter', '--target', 'grafana']);
    expect(target.exitCode).toBe(2);
    expect(target.stderr).toMatch(/--target: "grafana" is not swm or l2sm/);
    // the original's exporter command line, with the namespace from the environment
    const swm = await lpm(['exporter', '--target', 'swm', '--source', 'direct', '--agent', agentUrl, '--dry-run', '--once'], { TOPOLOGY_NAMESPACE: 'codeco' });
    expect(swm.exitCode, swm.stderr).toBe(0);
    expect(swm.stdout).toMatch(/namespace: codeco/);
  });
});
