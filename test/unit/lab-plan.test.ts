import { describe, expect, it } from 'vitest';
import { parseYamlConfig } from '../../src/config/loadYaml.js';
import { formatSubnet, overlaps, parseIpv4, parseSubnet } from '../../scenarios/lab/ipv4.js';
import { topologySchema } from '../../scenarios/topology.js';
import { agentConfig, agentTargets } from '../../scenarios/lab/agents.js';
import { isLabRootLink, nodeMac, pickUnderlay, planLab } from '../../scenarios/lab/plan.js';
import { parseSetArgs } from '../../scenarios/lab/setArgs.js';

const topo = parseYamlConfig(
  `
name: tplan
nodes: [node-a, node-b, c]
links:
  - { from: node-a, to: node-b, delay: 5ms }
  - { from: node-a, to: c, delay: 5ms, symmetric: false }
`,
  topologySchema,
  'lab.yaml',
);

describe('ipv4', () => {
  it('parses, formats and compares subnets', () => {
    expect(parseIpv4('10.1.2.3')).toBe(0x0a010203);
    expect(() => parseIpv4('10.1.2.256')).toThrow();
    expect(() => parseIpv4('10.01.2.3')).toThrow();
    expect(formatSubnet(parseSubnet('10.251.0.0/24'))).toBe('10.251.0.0/24');
    expect(() => parseSubnet('10.251.0.1/24')).toThrow(/host bits/);
    expect(overlaps(parseSubnet('10.0.0.0/8'), parseSubnet('10.251.3.0/24'))).toBe(true);
    expect(overlaps(parseSubnet('10.251.0.0/24'), parseSubnet('10.251.1.0/24'))).toBe(false);
  });
});

describe('lab plan', () => {
  it('names namespaces and links within kernel limits, with fixed MACs and addresses', () => {
    const plan = planLab(topo, '10.251.0.0/24');
    expect(plan.emulatorAddress).toBe('10.251.0.254');
    expect(plan.rootBridge).toBe('lpm-tplan');
    expect(plan.nodes.map((n) => [n.netns, n.underlayAddress, n.overlayAddress, n.mac, n.vethRoot])).toEqual([
      ['lpm-tplan-node-a', '10.251.0.1', '10.200.0.1', '02:4c:50:00:00:01', 'lpm-tplan-1'],
      ['lpm-tplan-node-b', '10.251.0.2', '10.200.0.2', '02:4c:50:00:00:02', 'lpm-tplan-2'],
      ['lpm-tplan-c', '10.251.0.3', '10.200.0.3', '02:4c:50:00:00:03', 'lpm-tplan-3'],
    ]);
    for (const n of plan.nodes) expect(n.vethRoot.length).toBeLessThanOrEqual(15);
    expect(nodeMac(255)).toBe('02:4c:50:00:00:ff');
  });

  it('recognises only its own root links', () => {
    expect(isLabRootLink('t', 'lpm-t')).toBe(true);
    expect(isLabRootLink('t', 'lpm-t-12')).toBe(true);
    expect(isLabRootLink('t', 'lpm-tx')).toBe(false);
    expect(isLabRootLink('t', 'lpm-tx-1')).toBe(false);
    expect(isLabRootLink('t', 'lpm-t-a')).toBe(false);
  });

  it('picks a free underlay and refuses a colliding one', () => {
    const overlay = parseSubnet('10.200.0.0/24');
    expect(pickUnderlay([], overlay)).toBe('10.251.0.0/24');
    expect(pickUnderlay([parseSubnet('10.251.0.0/24'), parseSubnet('10.251.1.7/32')], overlay)).toBe('10.251.2.0/24');
    expect(() => pickUnderlay([parseSubnet('10.0.0.0/8')], overlay, '10.99.0.0/24')).toThrow(/overlaps 10\.0\.0\.0\/8/);
    expect(() => pickUnderlay([], parseSubnet('10.99.0.0/16'), '10.99.0.0/24')).toThrow(/overlaps/);
    expect(() => planLab(topo, '10.251.0.0/30')).toThrow(/too small/);
  });

  it('gives each agent the targets it has two-way links to', () => {
    const plan = planLab(topo, '10.251.0.0/24');
    expect(agentTargets(plan, 'node-a')).toEqual([{ name: 'node-b', address: '10.200.0.2' }]);
    expect(agentTargets(plan, 'c')).toEqual([]);
    const cfg = agentConfig(plan, plan.nodes[0]!, { measurements: [{ type: 'rtt', interval: '5s' }] });
    expect(cfg).toMatchObject({ node: 'node-a', address: '10.200.0.1', listen: '10.251.0.1:9105' });
    expect(() => agentConfig(plan, plan.nodes[2]!)).toThrow(/agent config for node c: targets: no targets to measure/);
    expect(() => agentConfig(plan, plan.nodes[0]!, { bogus: 1 })).toThrow(/Unrecognized key/);
  });
});

describe('lab set arguments', () => {
  it('accepts a->b, a:b and "a b" with key=value changes', () => {
    expect(parseSetArgs(['a->b', 'delay=20ms', 'loss=5%'])).toEqual({
      from: 'a',
      to: 'b',
      raw: { delay: '20ms', loss: '5%' },
      patch: { delay: 0.02, loss: 0.05 },
    });
    expect(parseSetArgs(['node-a:node-b', 'rate=unlimited']).patch).toEqual({ rate: null });
    expect(parseSetArgs(['node-a', 'node-b', 'rate=50Mbps'])).toMatchObject({ from: 'node-a', to: 'node-b', patch: { rate: 6.25e6 } });
  });

  it('names the problem', () => {
    expect(() => parseSetArgs([])).toThrow(/missing link/);
    expect(() => parseSetArgs(['a->b'])).toThrow(/nothing to change/);
    expect(() => parseSetArgs(['a->b', 'speed=1'])).toThrow(/unknown field "speed"/);
    expect(() => parseSetArgs(['a->b', 'delay=fast'])).toThrow(/^delay: "fast" is not a duration/);
    expect(() => parseSetArgs(['a->b', 'loss=150%'])).toThrow(/^loss:/);
    expect(() => parseSetArgs(['a->b', 'delay=1ms', 'delay=2ms'])).toThrow(/given twice/);
    expect(() => parseSetArgs(['delay=1ms'])).toThrow(/not a link/);
  });
});
