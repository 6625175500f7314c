// The agent-config fields added for the agent itself: iperf3.slot and the Kubernetes connection.
import { describe, expect, it } from 'vitest';
import { resolveNodeName } from '../../agent/agent.js';
import { agentConfigSchema } from '../../agent/config.js';
import { parseYamlConfig } from '../../src/config/loadYaml.js';
import { configProblems } from '../helpers/configProblems.js';

const parse = (text: string) => parseYamlConfig(text, agentConfigSchema, 'agent.yaml');
const base = ['node: node-a', 'address: 10.0.0.1', 'targets:', '  - { name: node-b, address: 10.0.0.2 }'];

const problems = (text: string): string[] => configProblems(() => parse(text));

describe('agent config: bandwidth slot', () => {
  it('accepts a slot long enough for both directions of every iperf3 measurement', () => {
    const cfg = parse([...base, 'iperf3: { slot: 30s }', 'measurements:', '  - type: bandwidth', '    iperf3: { duration: 5s, omit: 1s }'].join('\n'));
    expect(cfg.iperf3.slot).toBe(30);
  });

  it('rejects a slot that is too short, naming the field and line', () => {
    const p = problems([...base, 'iperf3:', '  slot: 10s', 'measurements:', '  - type: bandwidth', '    iperf3: { duration: 5s, omit: 1s }'].join('\n'));
    expect(p).toHaveLength(1);
    expect(p[0]).toMatch(/^agent\.yaml:6: iperf3\.slot: slot must be at least 18s/);
  });

  it('leaves the slot unset by default (derived from the measurements)', () => {
    expect(parse(base.join('\n')).iperf3.slot).toBeUndefined();
  });
});

describe('agent config: kubernetes discovery', () => {
  it('accepts a server URL or a kubeconfig and needs no static targets', () => {
    const cfg = parse(['node: node-a', 'discovery:', '  kubernetes:', '    server: http://127.0.0.1:8001', '    namespace: lpm'].join('\n'));
    expect(cfg.discovery.kubernetes).toEqual({ server: 'http://127.0.0.1:8001', namespace: 'lpm', labelSelector: 'app.kubernetes.io/name=lpm-agent' });
  });

  it('rejects a server that is not a URL', () => {
    expect(problems(['node: node-a', 'discovery:', '  kubernetes:', '    server: not a url'].join('\n'))[0]).toMatch(
      /discovery\.kubernetes\.server/,
    );
  });
});

describe('node name', () => {
  it('comes from the config, else NODE_NAME, else is an error', () => {
    const cfg = parse(base.join('\n'));
    expect(resolveNodeName(cfg, {})).toBe('node-a');
    const noName = { ...cfg, node: undefined };
    expect(resolveNodeName(noName, { NODE_NAME: 'worker-1' })).toBe('worker-1');
    expect(() => resolveNodeName(noName, {})).toThrow(/NODE_NAME/);
    expect(() => resolveNodeName(noName, { NODE_NAME: 'Bad_Name' })).toThrow(/DNS name/);
  });
});
