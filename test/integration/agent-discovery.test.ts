// Kubernetes target discovery end to end, without a cluster: a real agent (in-process, real ping
// over loopback) discovers its targets from the fake API server (a real HTTP server speaking the
// pod list + watch protocol), measures them, and drops a target's series when its pod goes away.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from '../../agent/agent.js';
import { agentConfigSchema } from '../../agent/config.js';
import { MULTUS_NETWORK_STATUS_ANNOTATION } from '../../src/l2sm.js';
import { linksReportSchema } from '../../src/linkMetrics.js';
import { createLogger } from '../../src/log.js';
import { FakeKubeApi } from '../helpers/fakeKubeApi.js';
import { waitFor } from '../helpers/waitFor.js';

const status = (ip: string) => ({
  [MULTUS_NETWORK_STATUS_ANNOTATION]: JSON.stringify([
    { name: 'cbr0', interface: 'eth0', ips: ['10.244.0.9'], default: true },
    { name: 'lpm-system/lpm-measurement', interface: 'net1', ips: [`${ip}/24`] },
  ]),
});
const LABELS = { 'app.kubernetes.io/name': 'lpm-agent' };

let api: FakeKubeApi;
let agent: Agent;

const base = () => `http://127.0.0.1:${agent.httpPort}`;
const links = async () => linksReportSchema.parse(await (await fetch(`${base()}/api/v1/links`)).json());
const metrics = async () => (await fetch(`${base()}/metrics`)).text();

describe('agent with Kubernetes discovery (fake API server)', () => {
  beforeAll(async () => {
    api = await FakeKubeApi.start();
    api.addPod({ namespace: 'lpm-system', name: 'agent-a', labels: LABELS, nodeName: 'node-a', annotations: status('127.0.0.1') });
    api.addPod({ namespace: 'lpm-system', name: 'agent-b', labels: LABELS, nodeName: 'node-b', annotations: status('127.0.0.2') });
    api.addPod({ namespace: 'lpm-system', name: 'agent-c', labels: LABELS, nodeName: 'node-c', annotations: status('127.0.0.3') });
    api.addPod({ namespace: 'lpm-system', name: 'other', labels: { app: 'web' }, nodeName: 'node-d', annotations: status('127.0.0.4') });
    const cfg = agentConfigSchema.parse({
      node: 'node-a',
      address: '127.0.0.1',
      listen: '127.0.0.1:0',
      discovery: { kubernetes: { server: api.url, namespace: 'lpm-system' } },
      iperf3: { port: 20_000 + (process.pid % 10_000) },
      measurements: [{ type: 'rtt', interval: '1s', ping: { count: 3, spacing: '0.2s', timeout: '1s' } }],
    });
    agent = new Agent(cfg, 'node-a', createLogger('agent-test', 'warn'));
    await agent.start();
  });

  afterAll(async () => {
    await agent?.stop();
    await api?.stop();
  });

  it('finds the agent pods by label, skips itself, and measures them', async () => {
    await waitFor('targets discovered', async () => (agent.targetList().length === 2 ? true : undefined));
    expect(agent.targetList()).toEqual([
      { name: 'node-b', address: '127.0.0.2' },
      { name: 'node-c', address: '127.0.0.3' },
    ]);
    await waitFor('both measured', async () => {
      const r = await links();
      return r.links.filter((l) => l.metrics.rtt_seconds).length === 2 ? true : undefined;
    });
    expect(await metrics()).toMatch(/lpm_link_rtt_seconds\{source_node="node-a",target_node="node-c",network="lpm-measurement"\}/);
    expect((await fetch(`${base()}/readyz`)).status).toBe(200);
  });

  it('a deleted pod removes the target and every one of its series', async () => {
    api.deletePod('lpm-system', 'agent-c');
    await waitFor('node-c gone', async () => {
      const text = await metrics();
      return !text.includes('target_node="node-c"') && !(await links()).links.some((l) => l.target === 'node-c') ? true : undefined;
    });
    expect(agent.targetList().map((t) => t.name)).toEqual(['node-b']);
    expect(await metrics()).toMatch(/^lpm_targets 1$/m);
  });

  it('a pod whose network address changes is measured at the new address', async () => {
    api.updatePod('lpm-system', 'agent-b', { annotations: status('127.0.0.5') });
    await waitFor('node-b moved', async () =>
      (await links()).links.find((l) => l.target === 'node-b' && l.address === '127.0.0.5' && l.metrics.rtt_seconds) ? true : undefined,
    );
  });
});
