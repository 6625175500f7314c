import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseYamlConfig } from '../../src/config/loadYaml.js';
import { parseLinkChange, resolvePodRef, scenarioSchema, type Scenario } from '../../scenarios/scenarioFile.js';
import { configProblems } from '../helpers/configProblems.js';

const SCENARIOS = join(import.meta.dirname, '../../scenarios');

const BASE = `
topology:
  name: st
  nodes: [a, b, c]
  mesh: true
  defaults: { delay: 5ms }
workloads:
  - { name: db, labels: { app: db }, nodeName: a }
  - name: web
    labels: { app: web }
    annotations: { lpm.l2sm.io/peers: "app=db" }
`;

function parse(text: string): Scenario {
  return parseYamlConfig(text, scenarioSchema, 's.yaml');
}

const problems = (text: string): string[] => configProblems(() => parse(text));

describe('scenario schema', () => {
  it('parses every shipped scenario', () => {
    const files = readdirSync(SCENARIOS).filter((f) => f.endsWith('.yaml'));
    expect(files.length).toBeGreaterThanOrEqual(5);
    for (const f of files) {
      const s = parse(readFileSync(join(SCENARIOS, f), 'utf8'));
      expect(s.pods.length, f).toBeGreaterThan(0);
      expect(s.expect.length, f).toBeGreaterThan(0);
      expect(s.modes, f).toContain('sim');
      // lab names are 1-8 characters; ours start with "s"
      expect(s.topology.name, f).toMatch(/^s[a-z0-9]{0,7}$/);
    }
  });

  it('fills defaults and resolves pod references to ids', () => {
    const s = parse(`${BASE}
expect:
  - { pod: web, on: b }
  - { colocated: [db, default/web] }
  - { pod: web, notOn: a, placement: netmarks }
`);
    expect(s.scheduler).toEqual({ weight: 5, spreadWeight: 1, podsPerNode: 10, capacity: {}, schedulerName: 'lpm-scheduler' });
    expect(s.pods[0]).toEqual({ namespace: 'default', name: 'db', labels: { app: 'db' }, annotations: {}, nodeName: 'a' });
    expect(s.expect).toEqual([
      { kind: 'on', pod: 'default/web', nodes: ['b'], placement: 'lpm' },
      { kind: 'colocated', pods: ['default/db', 'default/web'], placement: 'lpm' },
      { kind: 'notOn', pod: 'default/web', nodes: ['a'], placement: 'netmarks' },
    ]);
    expect(s.extenderConfig.scoring.rttReference).toBe(0.01);
    expect(s.lab.measure).toEqual(['rtt']); // no link has a rate
    expect(s.topology.links).toHaveLength(6);
  });

  it('takes extender overrides through the extender schema', () => {
    const s = parse(`${BASE}
extender:
  scoring: { rttReference: 2ms, bandwidthWeight: 0 }
`);
    expect(s.extenderConfig.scoring.rttReference).toBeCloseTo(0.002);
    expect(s.extenderConfig.scoring.bandwidthWeight).toBe(0);
    const p = problems(`${BASE}
extender:
  scoring: { rttWeight: -1 }
`);
    expect(p.join('\n')).toMatch(/s\.yaml:\d+: extender\.scoring\.rttWeight: .*/);
  });

  it('parses events and the traffic graph', () => {
    const s = parse(`${BASE}
events:
  - { after: db, set: "a->b delay=50ms loss=1%", both: true }
traffic:
  calls:
    - { from: web, to: db, request: 1KiB, response: 64KB }
`);
    expect(s.events[0]!.after).toBe('default/db');
    expect(s.events[0]!.change).toMatchObject({ from: 'a', to: 'b', both: true, raw: { delay: '50ms', loss: '1%' } });
    expect(s.events[0]!.change.patch.delay).toBeCloseTo(0.05);
    expect(s.traffic).toMatchObject({ entry: 'default/web', clients: 4, duration: 10, calls: [{ from: 'default/web', to: 'default/db', request: 1024, response: 64000 }] });
  });

  it('names file, line and field of each mistake', () => {
    const p = problems(`${BASE}
expect:
  - { pod: web, on: z }
  - { pod: nobody, on: a }
  - { pod: web, on: a, notOn: b }
  - { on: a }
  - { colocated: [web] }
`);
    expect(p).toContain('s.yaml:16: expect[2]: one expectation per entry (found on, notOn); write several entries');
    expect(p).toContain('s.yaml:17: expect[3].pod: "on" needs the pod it is about');
    expect(p.some((x) => /^s\.yaml:18: expect\[4\]\.colocated: Array must contain at least 2/.test(x))).toBe(true);
  });

  it('rejects unknown nodes and pods once the fields themselves are valid', () => {
    const p = problems(`${BASE}
expect:
  - { pod: web, on: z }
  - { pod: nobody, on: a }
  - { pod: web, onOneOf: [b, y] }
`);
    expect(p).toContain('s.yaml:14: expect[0].on: unknown node "z" (nodes: a, b, c)');
    expect(p).toContain('s.yaml:15: expect[1].pod: unknown pod "nobody" (pods: db, web)');
    expect(p.find((x) => x.includes('expect[2].onOneOf[1]'))).toMatch(/unknown node "y"/);
  });

  it('rejects a bad event text without crashing on the rest', () => {
    const p = problems(`
topology: { name: st, nodes: [a, b], links: [{ from: a, to: b, symmetric: false }] }
workloads:
  - { name: x }
events:
  - { after: x, set: "a->b speed=5" }
`);
    expect(p).toEqual(['s.yaml:6: events[0].set: "speed=5" is not KEY=VALUE with KEY one of delay, jitter, loss, rate, queue']);
  });

  it('rejects events on missing links, duplicate pods and an unknown nodeName', () => {
    const p = problems(`
topology: { name: st, nodes: [a, b], links: [{ from: a, to: b, symmetric: false }] }
workloads:
  - { name: x, nodeName: q }
  - { name: x }
  - { name: y }
events:
  - { after: y, set: "b->a delay=5ms" }
  - { after: y, set: "a->b delay=5ms", both: true }
`);
    expect(p).toEqual([
      's.yaml:4: workloads[0].nodeName: unknown node "q" (nodes: a, b)',
      's.yaml:5: workloads[1].name: duplicate pod "default/x" (also workloads[0])',
      's.yaml:8: events[0].set: the topology has no link b->a',
      's.yaml:9: events[1].set: the topology has no link b->a',
    ]);
  });

  it('rejects a call cycle and an ambiguous entry', () => {
    expect(problems(`${BASE}
traffic:
  calls:
    - { from: web, to: db }
    - { from: db, to: web }
`).join('\n')).toMatch(/traffic\.calls: the calls form a cycle/);
    expect(problems(`${BASE}
  - { name: api }
traffic:
  calls:
    - { from: web, to: db }
    - { from: api, to: db }
`).join('\n')).toMatch(/traffic\.entry: cannot tell which pod the clients call/);
  });

  it('requires annotation values to be strings', () => {
    const p = problems(`
topology: { name: st, nodes: [a] }
workloads:
  - { name: x, annotations: { lpm.l2sm.io/max-rtt: 5 } }
`);
    expect(p.join('\n')).toMatch(/s\.yaml:4: workloads\[0\]\.annotations\.lpm\.l2sm\.io\/max-rtt: must be a string/);
  });
});

describe('parseLinkChange', () => {
  it('reads the words of lpm lab set', () => {
    const c = parseLinkChange('n1->n2 delay=20ms rate=10Mbps', false);
    expect(c).toMatchObject({ from: 'n1', to: 'n2', both: false, raw: { delay: '20ms', rate: '10Mbps' } });
    expect(c.patch.rate).toBe(10e6 / 8);
    expect(parseLinkChange('a:b rate=unlimited').patch.rate).toBeNull();
  });

  it.each([
    ['', /is not a link/],
    ['a->b', /nothing to change/],
    ['a->b delay', /is not KEY=VALUE/],
    ['a->b delay=1ms delay=2ms', /given twice/],
    ['a->b delay=fast', /delay: "fast" is not a duration/],
  ])('rejects %j', (text, err) => {
    expect(() => parseLinkChange(text)).toThrow(err);
  });
});

describe('resolvePodRef', () => {
  const pods = [
    { namespace: 'a', name: 'x' },
    { namespace: 'b', name: 'x' },
    { namespace: 'a', name: 'y' },
  ];
  it('finds by name or namespace/name and says when a name is ambiguous', () => {
    expect(resolvePodRef(pods, 'y')).toBe(2);
    expect(resolvePodRef(pods, 'b/x')).toBe(1);
    expect(resolvePodRef(pods, 'x')).toMatch(/ambiguous \(a\/x, b\/x\)/);
    expect(resolvePodRef(pods, 'c/x')).toMatch(/unknown pod/);
  });
});
