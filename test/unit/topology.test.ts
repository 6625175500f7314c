import { describe, expect, it } from 'vitest';
import { parseYamlConfig } from '../../src/config/loadYaml.js';
import { roundTrip, topologySchema } from '../../scenarios/topology.js';
import { configProblems } from '../helpers/configProblems.js';

const parse = (text: string) => parseYamlConfig(text, topologySchema, 'lab.yaml');

const problems = (text: string): string[] => configProblems(() => parse(text));

describe('topology file', () => {
  it('assigns addresses, mirrors symmetric links and converts units', () => {
    const t = parse(`
name: demo
nodes: [a, b, c]
links:
  - { from: a, to: b, delay: 5ms, jitter: 500us, loss: 1%, rate: 50Mbps }
`);
    expect(t.subnet).toBe('10.200.0.0/24');
    expect(t.nodes).toEqual([
      { name: 'a', address: '10.200.0.1' },
      { name: 'b', address: '10.200.0.2' },
      { name: 'c', address: '10.200.0.3' },
    ]);
    expect(t.links).toHaveLength(2);
    const ab = t.links.find((l) => l.from === 'a' && l.to === 'b')!;
    const ba = t.links.find((l) => l.from === 'b' && l.to === 'a')!;
    expect(ab.delay).toBeCloseTo(0.005);
    expect(ab.jitter).toBeCloseTo(0.0005);
    expect(ab.loss).toBeCloseTo(0.01);
    expect(ab.rate).toBe(50e6 / 8);
    expect(ab.queue).toBeCloseTo(0.05); // default
    expect(ba).toEqual({ ...ab, from: 'b', to: 'a' });
    // c has no links: not connected.
    expect(t.links.some((l) => l.from === 'c' || l.to === 'c')).toBe(false);
    expect(roundTrip(t, 'a', 'b')).toBeCloseTo(0.01);
    expect(roundTrip(t, 'a', 'c')).toBeUndefined();
  });

  it('an explicit reverse entry wins over symmetry, in any order; symmetric: false makes one direction', () => {
    const t = parse(`
name: demo
nodes: [a, b, c]
defaults: { delay: 1ms, rate: 100Mbps }
links:
  - { from: b, to: a, delay: 7ms }
  - { from: a, to: b, delay: 3ms }
  - { from: a, to: c, delay: 2ms, symmetric: false }
`);
    const get = (f: string, to: string) => t.links.find((l) => l.from === f && l.to === to);
    expect(get('a', 'b')!.delay).toBeCloseTo(0.003);
    expect(get('b', 'a')!.delay).toBeCloseTo(0.007);
    expect(get('a', 'c')!.delay).toBeCloseTo(0.002);
    expect(get('c', 'a')).toBeUndefined();
    expect(get('a', 'b')!.rate).toBe(100e6 / 8); // from defaults
    expect(roundTrip(t, 'a', 'b')).toBeCloseTo(0.01);
  });

  it('mesh connects every remaining pair with the defaults; rate may be unlimited', () => {
    const t = parse(`
name: m
mesh: true
defaults: { delay: 2ms, rate: 10Mbps }
nodes: [a, b, c]
links:
  - { from: a, to: b, rate: unlimited }
`);
    expect(t.links).toHaveLength(6);
    expect(t.links.find((l) => l.from === 'b' && l.to === 'a')!.rate).toBeNull();
    expect(t.links.find((l) => l.from === 'c' && l.to === 'b')!.rate).toBe(10e6 / 8);
  });

  it('takes explicit addresses and a custom subnet', () => {
    const t = parse(`
name: x
subnet: 192.168.50.0/24
underlay: 10.99.0.0/24
nodes:
  - a
  - { name: b, address: 192.168.50.20 }
`);
    expect(t.nodes.map((n) => n.address)).toEqual(['192.168.50.1', '192.168.50.20']);
    expect(t.underlay).toBe('10.99.0.0/24');
  });

  it('names field and line of every problem', () => {
    const p = problems(`name: demo
nodes:
  - a
  - b
  - a
links:
  - { from: a, to: zz, delay: 5 parsecs }
  - from: a
    to: b
    rate: 0Mbps
  - { from: a, to: b }
`);
    expect(p).toContain('lab.yaml:5: nodes[2]: duplicate node "a"');
    expect(p.some((x) => x.startsWith('lab.yaml:7: links[0].delay:'))).toBe(true);
    expect(p).toContain('lab.yaml:7: links[0].to: unknown node "zz"');
    expect(p.some((x) => x.startsWith('lab.yaml:10: links[1].rate:'))).toBe(true);
    expect(p).toContain('lab.yaml:11: links[2]: link a->b is already given in links[1]');
  });

  it('rejects bad names, subnets and addresses', () => {
    expect(problems('name: Demo-1\nnodes: [a]\n')[0]).toMatch(/^lab\.yaml:1: name: must be 1-8 characters/);
    expect(problems('name: toolongname\nnodes: [a]\n')[0]).toMatch(/name:/);
    expect(problems('name: d\nsubnet: 10.0.0.1/24\nnodes: [a]\n')[0]).toMatch(/lab\.yaml:2: subnet: .*host bits/);
    expect(problems('name: d\nnodes:\n  - { name: a, address: 10.9.9.9 }\n')[0]).toMatch(
      /lab\.yaml:3: nodes\[0\]\.address: 10\.9\.9\.9 is not a host address of 10\.200\.0\.0\/24/,
    );
    expect(problems('name: d\nnodes:\n  - a\n  - { name: b, address: 10.200.0.1 }\n')[0]).toMatch(
      /nodes\[1\]: address 10\.200\.0\.1 is already used by node "a"/,
    );
    expect(problems('name: d\nnodes: [a]\nlinks:\n  - { from: a, to: a }\n')[0]).toMatch(/links\[0\]\.to: a link needs two different nodes/);
    expect(problems('name: d\nnodes: [a]\nbogus: 1\n')[0]).toMatch(/Unrecognized key/);
    expect(problems('name: d\nnodes: [a, b]\nlinks:\n  - { from: a, to: b, loss: 120% }\n')[0]).toMatch(/links\[0\]\.loss/);
  });
});
