import { describe, expect, it } from 'vitest';
import { agentConfigSchema } from '../../agent/config.js';
import { ConfigError, parseYamlConfig } from '../../src/config/loadYaml.js';
import { configProblems } from '../helpers/configProblems.js';

const parse = (text: string) => parseYamlConfig(text, agentConfigSchema, 'agent.yaml');

const problems = (text: string): string[] => configProblems(() => parse(text));

describe('agent config', () => {
  it('accepts a five-line config and fills in defaults', () => {
    const cfg = parse(['node: node-a', 'address: 10.0.0.1', 'targets:', '  - name: node-b', '    address: 10.0.0.2'].join('\n'));
    expect(cfg.node).toBe('node-a');
    expect(cfg.network).toBe('lpm-measurement');
    expect(cfg.listen).toBe('0.0.0.0:9105');
    expect(cfg.targets).toEqual([{ name: 'node-b', address: '10.0.0.2' }]);
    expect(cfg.measurements.map((m) => m.type)).toEqual(['rtt', 'bandwidth']);
    expect(cfg.measurements[0]!.interval).toBe(10);
    expect(cfg.measurements[0]!.ping.spacing).toBeCloseTo(0.2);
    expect(cfg.measurements[1]!.iperf3.duration).toBe(5);
  });

  it('parses human units in a full config', () => {
    const cfg = parse(`
node: node-a
address: 10.0.0.1
network: lpm-net
listen: 127.0.0.1:9200
targets:
  - { name: node-b, address: 10.0.0.2 }
  - { name: node-c, address: 10.0.0.3 }
measurements:
  - type: rtt
    targets: [node-b]
    interval: 2s
    ping: { count: 20, spacing: 50ms }
  - type: udp-jitter
    interval: 1m
    iperf3: { udpRate: 5Mbps, duration: 3s, omit: 0 }
`);
    expect(cfg.measurements[0]!.targets).toEqual(['node-b']);
    expect(cfg.measurements[0]!.ping.spacing).toBeCloseTo(0.05);
    expect(cfg.measurements[1]!.interval).toBe(60);
    expect(cfg.measurements[1]!.iperf3.udpRate).toBe(625000);
  });

  it('names the field and the line of every problem', () => {
    const text = [
      'node: node-a', // 1
      'address: 10.0.0.999', // 2
      'targets:', // 3
      '  - name: node-b', // 4
      '    address: 10.0.0.2', // 5
      'measurements:', // 6
      '  - type: rtt', // 7
      '    interval: soon', // 8
      '  - type: traceroute', // 9
    ].join('\n');
    let err: unknown;
    try {
      parse(text);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const msg = (err as ConfigError).message;
    expect(msg).toMatch(/agent\.yaml:2: address: must be an IPv4 or IPv6 address/);
    expect(msg).toMatch(/agent\.yaml:8: measurements\[0\]\.interval: "soon" is not a duration/);
    expect(msg).toMatch(/agent\.yaml:9: measurements\[1\]\.type: /);
  });

  it('rejects unknown keys, duplicate targets and a config with nothing to measure', () => {
    expect(() => parse('node: a\ntargets: [{name: b, address: 10.0.0.2}]\nintervall: 5s')).toThrow(/Unrecognized key.*intervall/);
    expect(() => parse('node: a\ntargets:\n  - {name: b, address: 10.0.0.2}\n  - {name: b, address: 10.0.0.3}')).toThrow(
      /agent\.yaml:4: targets\[1\]\.name: duplicate target "b"/,
    );
    expect(() => parse('node: a')).toThrow(/targets: no targets to measure/);
  });

  it('reports YAML syntax errors with a line', () => {
    expect(() => parse('node: a\ntargets: [\n')).toThrow(/agent\.yaml:\d+: YAML syntax/);
  });

  it('rejects the old key `peers` with its new name, file and line (and nothing else)', () => {
    // the line is the value's, as for every problem with a whole field: here the list's first item
    const text = ['node: node-a', 'address: 10.0.0.1', 'peers:', '  - { name: node-b, address: 10.0.0.2 }'].join('\n');
    expect(problems(text)).toEqual(['agent.yaml:4: peers: renamed to "targets"']);
    // also next to the new key, and whatever its value
    expect(problems('node: a\ntargets: [{name: b, address: 10.0.0.2}]\npeers: []')).toEqual(['agent.yaml:3: peers: renamed to "targets"']);
  });

  it('rejects the old key `metrics` with its new name, file and line (and nothing else)', () => {
    const text = ['node: node-a', 'targets:', '  - { name: node-b, address: 10.0.0.2 }', 'metrics:', '  - { type: rtt, interval: 5s }'].join('\n');
    expect(problems(text)).toEqual(['agent.yaml:5: metrics: renamed to "measurements"']);
    // both old keys at once: one line each
    expect(problems('node: a\npeers: [{name: b, address: 10.0.0.2}]\nmetrics: [{type: rtt}]')).toEqual([
      'agent.yaml:2: peers: renamed to "targets"',
      'agent.yaml:3: metrics: renamed to "measurements"',
    ]);
  });
});
