// The original LPM's JSON config (as the L2S-M operator writes it): detected by content, converted
// to our agent config (intervals in minutes, omitted = off, per-neighbour intervals), refused
// with the same FILE:LINE: field: problem messages as our YAML; and the --check plan.
import { describe, expect, it } from 'vitest';
import { detectConfigFormat, parseAgentConfigText } from '../../agent/configFile.js';
import { formatCheckPlan } from '../../agent/checkPlan.js';
import { configProblems } from '../helpers/configProblems.js';

/** What the operator writes (json.MarshalIndent, two spaces), with per-neighbour differences. */
const OPERATOR = `{
  "Nodename": "node-a",
  "spreadFactor": 0.2,
  "ipAddress": "10.0.0.2/24",
  "probeInterface": "lpm-probe",
  "MetricsNeighbourNodes": [
    {
      "name": "node-b",
      "ip": "10.0.0.3",
      "rttInterval": 10,
      "jitterInterval": 5,
      "throughputInterval": 20
    },
    {
      "name": "node-c",
      "ip": "10.0.0.4",
      "rttInterval": 10,
      "throughputInterval": 30,
      "otdInterval": 7
    }
  ]
}
`;

const parse = (text: string) => parseAgentConfigText(text, 'lpm-config.json');
const problems = (text: string) => configProblems(() => parse(text));

describe('original LPM config', () => {
  it('is told apart from our YAML by its keys, with no flag', () => {
    expect(detectConfigFormat(OPERATOR)).toBe('original-lpm-json');
    expect(detectConfigFormat('{"NeighbourNodes": []}')).toBe('original-lpm-json');
    expect(detectConfigFormat('node: a\ntargets: [{ name: b, address: 10.0.0.2 }]\n')).toBe('lpm-yaml');
    // our config written as JSON is still ours
    expect(detectConfigFormat('{"node": "a", "targets": []}')).toBe('lpm-yaml');
    expect(detectConfigFormat('not: [valid')).toBe('lpm-yaml');
  });

  it('converts the operator\'s config: minutes, per-neighbour intervals, ports, interface, compat metrics', () => {
    const { config: c, format, notes } = parse(OPERATOR);
    expect(format).toBe('original-lpm-json');
    expect(c.node).toBe('node-a');
    expect(c.interface).toBe('lpm-probe');
    expect(c.address).toBeUndefined(); // the interface binds the probes, as in the original
    expect(c.listen).toBe('0.0.0.0:8090');
    expect(c.compatMetrics).toBe(true);
    expect(c.iperf3.port).toBe(5201);
    expect(c.iperf3.udpPort).toBe(5202);
    expect(c.targets).toEqual([
      { name: 'node-b', address: '10.0.0.3' },
      { name: 'node-c', address: '10.0.0.4' },
    ]);
    const m = c.measurements.map((x) => ({ type: x.type, targets: x.targets, interval: x.interval }));
    expect(m).toEqual([
      { type: 'rtt', targets: ['node-b', 'node-c'], interval: 600 },
      { type: 'bandwidth', targets: ['node-b'], interval: 1200 },
      { type: 'bandwidth', targets: ['node-c'], interval: 1800 },
      { type: 'udp-jitter', targets: ['node-b'], interval: 300 },
    ]);
    // like the original: ping -c 10 (1 s apart); iperf3 -u at iperf3's default 1 Mbit/s for 10 s
    expect(c.measurements[0]!.ping).toMatchObject({ count: 10, spacing: 1 });
    expect(c.measurements[3]!.iperf3).toMatchObject({ udpRate: 125_000, duration: 10, omit: 0 });
    expect(notes.join('\n')).toMatch(/node-c: jitterInterval omitted: off/);
    expect(notes.join('\n')).toMatch(/node-c: otdInterval 7: not measured/);
    expect(notes.join('\n')).toMatch(/ipAddress 10\.0\.0\.2\/24: not bound/);
  });

  it('omitted, zero and negative (-1) intervals are off; no interface binds the address instead', () => {
    const { config: c, notes } = parse(
      JSON.stringify({
        Nodename: 'n1',
        ipAddress: '10.0.0.2/24',
        probeInterface: '',
        MetricsNeighbourNodes: [
          { name: 'n2', ip: '10.0.0.3', rttInterval: -1, throughputInterval: 0 },
          { name: 'n3', ip: '10.0.0.4', jitterInterval: 1 },
        ],
      }),
    );
    expect(c.interface).toBeUndefined();
    expect(c.address).toBe('10.0.0.2');
    expect(c.measurements.map((m) => [m.type, m.targets, m.interval])).toEqual([['udp-jitter', ['n3'], 60]]);
    expect(notes).toContain('n2: every interval omitted: nothing measured towards it');
  });

  it('reads the old NeighbourNodes name; a config with nothing to measure just serves', () => {
    const old = parse('{"Nodename": "n1", "NeighbourNodes": [{"name": "n2", "ip": "10.0.0.3", "rttInterval": 2}]}');
    expect(old.config.targets).toEqual([{ name: 'n2', address: '10.0.0.3' }]);
    expect(old.config.measurements[0]).toMatchObject({ type: 'rtt', interval: 120 });
    const lonely = parse('{"Nodename": "n1", "MetricsNeighbourNodes": []}');
    expect(lonely.config.targets).toEqual([]);
    expect(lonely.config.measurements).toEqual([]);
    // Nodename may come from NODE_NAME, as our `node`
    expect(parse('{"MetricsNeighbourNodes": []}').config.node).toBeUndefined();
  });

  it('refuses unknown keys and bad values with file, line and field', () => {
    const p = problems(OPERATOR.replace('"spreadFactor": 0.2,', '"spreadFactor": 0.2,\n  "probeInterval": 3,'));
    expect(p).toEqual(['lpm-config.json:1: (top level): Unrecognized key(s) in object: \'probeInterval\'']);
    const q = problems(OPERATOR.replace('"rttInterval": 10,\n      "jitterInterval": 5', '"rttInterval": 1.5,\n      "jiterInterval": 5'));
    expect(new Set(q)).toEqual(
      new Set([
        'lpm-config.json:7: MetricsNeighbourNodes[0]: Unrecognized key(s) in object: \'jiterInterval\'',
        'lpm-config.json:10: MetricsNeighbourNodes[0].rttInterval: must be a whole number of minutes (the original format counts in minutes)',
      ]),
    );
    expect(problems(OPERATOR.replace('"ip": "10.0.0.3"', '"ip": "nowhere"'))).toEqual([
      'lpm-config.json:9: MetricsNeighbourNodes[0].ip: must be an IPv4 or IPv6 address',
    ]);
    expect(problems(OPERATOR.replace('10.0.0.2/24', '10.0.0.2/99'))).toEqual([
      'lpm-config.json:4: ipAddress: must be an address with a prefix length, e.g. 10.0.0.2/24',
    ]);
    expect(problems(OPERATOR.replace('"name": "node-c"', '"name": "node-b"'))[0]).toMatch(/:15: MetricsNeighbourNodes\[1\]\.name: duplicate neighbour "node-b"/);
    expect(problems('{"Nodename": "a", "MetricsNeighbourNodes": [], "NeighbourNodes": []}')[0]).toMatch(/NeighbourNodes: give MetricsNeighbourNodes or its old name NeighbourNodes, not both/);
    expect(problems(OPERATOR.replace('"lpm-probe"', '"a/b"'))[0]).toMatch(/:5: probeInterface: /);
  });

  it('reports JSON syntax errors with their line', () => {
    const p = problems('{\n  "Nodename": "a",\n  "MetricsNeighbourNodes": [\n}\n');
    expect(p).toHaveLength(1);
    expect(p[0]).toMatch(/^lpm-config\.json:4: JSON syntax: /);
  });
});

describe('--check plan', () => {
  it('prints targets, addresses, interface, intervals, ports and commands', () => {
    const parsed = parse(OPERATOR);
    const text = formatCheckPlan('/etc/lpm/lpm-config.json', parsed, 'node-a');
    expect(text).toMatch(/^config: \/etc\/lpm\/lpm-config\.json \(original LPM JSON format, converted\): valid$/m);
    expect(text).toMatch(/^node: node-a$/m);
    expect(text).toMatch(/^interface: lpm-probe \(ping -I lpm-probe; iperf3 --bind-dev lpm-probe/m);
    expect(text).toMatch(/^listen: 0\.0\.0\.0:8090 /m);
    expect(text).toMatch(/net_rtt_ms, net_jitter_ms, net_throughput_kbps/);
    expect(text).toMatch(/port 5201 +TCP \(bandwidth\) tests +iperf3 -s -p 5201 --idle-timeout 30 --forceflush --bind-dev lpm-probe/);
    expect(text).toMatch(/port 5202 +UDP \(udp-jitter\) tests +iperf3 -s -p 5202 /);
    expect(text).toMatch(/^ {2}node-b +10\.0\.0\.3$/m);
    expect(text).toMatch(/^ {2}node-c +10\.0\.0\.4$/m);
    expect(text).toMatch(/rtt +every 10m +to node-b, node-c +ping -n -c 10 -i 1 .* -I lpm-probe TARGET/);
    expect(text).toMatch(/bandwidth +every 20m +to node-b +iperf3 -c TARGET -p 5201 .*--bind-dev lpm-probe$/m);
    expect(text).toMatch(/udp-jitter +every 5m +to node-b +iperf3 -c TARGET -p 5202 .*--bind-dev lpm-probe -u -b 1000000$/m);
    expect(text).toMatch(/otdInterval 7: not measured/);
  });

  it('works for our YAML too', () => {
    const parsed = parseAgentConfigText('node: a\naddress: 10.0.0.1\ninterface: eth1\ntargets:\n  - { name: b, address: 10.0.0.2 }\n', 'agent.yaml');
    const text = formatCheckPlan('agent.yaml', parsed, 'a');
    expect(text).toMatch(/\(lpm YAML\): valid/);
    expect(text).toMatch(/^address: 10\.0\.0\.1 \(probe source; the iperf3 servers listen on it\)$/m);
    expect(text).toMatch(/rtt +every 10s +to all targets +ping .* -I eth1 TARGET/);
    expect(text).toMatch(/bandwidth +every 5m .* -B 10\.0\.0\.1 --bind-dev eth1$/m);
    expect(text).not.toMatch(/net_rtt_ms/);
  });
});
