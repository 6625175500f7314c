// The agent-config fields added for the agent itself: iperf3.slot and the Kubernetes connection.
import { describe, expect, it } from 'vitest';
import { resolveNodeName } from '../../agent/agent.js';
import { agentConfigSchema } from '../../agent/config.js';
import { ConfigError, parseYamlConfig } from '../../src/config/loadYaml.js';

const parse = (text: string) => parseYamlConfig(text, agentConfigSchema, 'agent.yaml');
const base = ['node: node-a', 'address: 10.0.0.1', 'peers:', '  - { name: node-b, address: 10.0.0.2 }'];

function problems(text: string): string[] {
  try {
    parse(text);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe('agent config: bandwidth slot', () => {
  it('accepts a slot long enough for both directions of every iperf3 metric', () => {
    const cfg = parse([...base, 'iperf3: { slot: 30s }', 'metrics:', '  - type: bandwidth', '    iperf3: { duration: 5s, omit: 1s }'].join('\n'));
    expect(cfg.iperf3.slot).toBe(30);
  });

  it('rejects a slot that is too short, naming the field and line', () => {
    const p = problems([...base, 'iperf3:', '  slot: 10s', 'metrics:', '  - type: bandwidth', '    iperf3: { duration: 5s, omit: 1s }'].join('\n'));
    expect(p).toHaveLength(1);
    expect(p[0]).toMatch(/^agent\.yaml:6: iperf3\.slot: slot must be at least 18s/);
  });

  it('leaves the slot unset by default (derived from the metrics)', () => {
    expect(parse(base.join('\n')).iperf3.slot).toBeUndefined();
  });
});

describe('agent config: kubernetes discovery', () => {
  it('accepts a server URL or a kubeconfig and needs no static peers', () => {
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
