// Lab faults end to end, on real parts: a 3-node lab (tflt) with real agents measuring the
// emulated links, and an extender reading the agents directly (`direct` source) with a short
// staleness age. Prometheus killed and restarted is covered by collector.test.ts.
// - A link cut (100% loss both ways): both agents report loss 1 and no RTT; a pod with a max-rtt
//   whose peer is behind that link has the node filtered (the link is down) and scored 0; the
//   decision says why; the link restored, the node passes again.
// - The agent on one node killed: the links only it measured keep their last values, which age
//   into stale; past the staleness age the extender neither filters nor penalises on them, and
//   the decision says they were stale and counted as neutral.
// Topology: a-b 1 ms, a-c 3 ms one way. Every agent measures RTT towards a and b only, so a<->b
// is measured from both ends and c->a, c->b only by c (nobody measures towards c): when c's agent
// dies there is no reverse measurement to fall back on.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { built, describeWithCapabilities, iperf3, missingCapabilities, netns, ping } from '../helpers/capability.js';
import { waitFor } from '../helpers/waitFor.js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createExtender, type Extender } from '../../extender/extender.js';
import type { Decision } from '../../extender/decisionLog.js';
import { extenderConfigSchema } from '../../extender/config.js';
import { linksReportSchema, type LinksReport } from '../../src/linkMetrics.js';
import { labDown, labSet, labStatus, labUp } from '../../scenarios/lab/lab.js';
import { isAlive } from '../../scenarios/lab/processes.js';
import { parseSetArgs } from '../../scenarios/lab/setArgs.js';
import type { LabState } from '../../scenarios/lab/state.js';

const missing = await missingCapabilities([netns(), built(), ping(), iperf3()]);

const LAB = 'tflt';
const RTT_MAX_AGE = 6; // seconds: the extender's staleness age for RTT (agents measure every 1 s)
const topology = `name: ${LAB}
nodes: [a, b, c]
links:
  - { from: a, to: b, delay: 1ms }
  - { from: a, to: c, delay: 3ms }
  - { from: b, to: c, delay: 3ms }
agent:
  measurements:
    - { type: rtt, targets: [a, b], interval: 1s, ping: { count: 5, spacing: 50ms, timeout: 1s } }
`;

/** A pod whose peer db-0 runs on node a, allowing at most `maxRtt`. */
const web = (name: string, maxRtt: string) => ({
  metadata: { name, namespace: 'default', annotations: { 'lpm.l2sm.io/peers': 'app=db', 'lpm.l2sm.io/max-rtt': maxRtt } },
});
const NODES = ['a', 'b', 'c'];

async function post(url: string, body: unknown): Promise<{ status: number; json: any }> {
  const res = await request(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.statusCode, json: await res.body.json() };
}

async function getJson<T>(url: string): Promise<T> {
  const res = await request(url, { signal: AbortSignal.timeout(3000) });
  return (await res.body.json()) as T;
}

describeWithCapabilities('lab faults: agents -> extender (direct source)', missing, () => {
  let state: LabState;
  let extender: Extender;
  let url: string;
  let dir = '';
  const agentUrl = (node: string) => `http://${state.plan.nodes.find((n) => n.name === node)!.underlayAddress}:9105`;
  const agentLinks = async (node: string): Promise<LinksReport> => linksReportSchema.parse(await getJson(`${agentUrl(node)}/api/v1/links`));
  /** The extender's latest decision of a verb for a pod. */
  const decision = async (verb: string, pod: string): Promise<Decision> =>
    (await getJson<{ decisions: Decision[] }>(`${url}/api/v1/decisions?verb=${verb}&pod=default/${pod}&limit=1`)).decisions[0]!;
  const filter = (pod: ReturnType<typeof web>) => post(`${url}/filter`, { Pod: pod, NodeNames: NODES });
  const prioritize = (pod: ReturnType<typeof web>) => post(`${url}/prioritize`, { Pod: pod, NodeNames: NODES });

  beforeAll(async () => {
    await labDown(LAB).catch(() => undefined);
    dir = await mkdtemp(join(tmpdir(), 'lpm-tflt-'));
    const file = join(dir, 'lab.yaml');
    await writeFile(file, topology);
    state = await labUp(file, { agents: true });
    const config = extenderConfigSchema.parse({
      source: { type: 'direct', agents: NODES.map((n) => agentUrl(n)), interval: '1s', timeout: '1s' },
      staleness: { rttInterval: '1s', rttMaxAge: `${RTT_MAX_AGE}s` },
      // RTT only (no bandwidth tests here), and a 2 ms reference: a 6 ms link scores below neutral
      scoring: { rttReference: '2ms', bandwidthWeight: 0 },
      kubernetes: { enabled: false },
      pods: [{ name: 'db-0', namespace: 'default', labels: { app: 'db' }, nodeName: 'a' }],
    });
    extender = await createExtender({ config });
    url = await extender.start({ host: '127.0.0.1', port: 0 });
    // every measured link has an RTT in the extender's matrix
    await waitFor('c->a, c->b, a->b, b->a measured', async () => {
      const m = extender.cache.current?.matrix;
      return m && [['c', 'a'], ['c', 'b'], ['a', 'b'], ['b', 'a']].every(([s, t]) => m.get(s!, t!)?.rtt_seconds) ? true : undefined;
    }, 30_000);
  }, 90_000);

  afterAll(async () => {
    await extender?.close().catch(() => undefined);
    await labDown(LAB).catch(() => undefined);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('a link cut: the agents report loss 1 and no RTT; the node behind it is filtered and scored 0, and the decision says why', async () => {
    const pod = web('web-cut', '20ms'); // a-b (2 ms) and a-c (6 ms) are both well within 20 ms
    const before = await filter(pod);
    expect(before.status).toBe(200);
    expect(before.json.NodeNames).toEqual(NODES);

    await labSet(LAB, parseSetArgs(['a->b', 'loss=100%']), true);
    try {
      // Both ends measure the cut link: loss 1, and no RTT at all (not the old one).
      for (const [self, peer] of [
        ['a', 'b'],
        ['b', 'a'],
      ] as const) {
        const link = await waitFor(`${self}->${peer} loss 1`, async () => {
          const l = (await agentLinks(self)).links.find((x) => x.target === peer);
          return l?.metrics.packet_loss_ratio?.value === 1 ? l : undefined;
        }, 20_000);
        expect(link.metrics.rtt_seconds).toBeUndefined();
        const text = await (await request(`${agentUrl(self)}/metrics`)).body.text();
        expect(text).toMatch(new RegExp(`^lpm_link_packet_loss_ratio\\{source_node="${self}",target_node="${peer}",network="[^"]+"\\} 1$`, 'm'));
        expect(text).not.toMatch(new RegExp(`^lpm_link_rtt_seconds\\{source_node="${self}",target_node="${peer}"`, 'm'));
      }

      const cut = await waitFor('b filtered', async () => {
        const r = await filter(pod);
        return r.status === 200 && !r.json.NodeNames.includes('b') ? r : undefined;
      }, 10_000);
      expect(cut.json.NodeNames).toEqual(['a', 'c']);
      expect(cut.json.FailedAndUnresolvableNodes.b).toMatch(
        /^lpm: RTT to a \(peer default\/db-0\): link down \(100% packet loss\), over the pod's max-rtt 20ms$/,
      );
      expect(cut.json.Error ?? '').toBe('');
      const fd = await decision('filter', 'web-cut');
      expect(fd.nodes!.find((n) => n.node === 'b')!.filtered).toMatch(/link down/);
      expect(fd.nodes!.find((n) => n.node === 'b')!.links!.join('\n')).toMatch(/a \[default\/db-0\] weight 1: link down: 100% packet loss measured .* ago, quality 0/);

      const prio = await prioritize(pod);
      expect(prio.status).toBe(200);
      const score = Object.fromEntries((prio.json as Array<{ Host: string; Score: number }>).map((h) => [h.Host, h.Score]));
      expect(score).toMatchObject({ a: 10, b: 0 });
      expect(score.c).toBeGreaterThan(0);
      const metrics = await (await request(`${url}/metrics`)).body.text();
      expect(metrics).toMatch(/^lpm_extender_nodes_filtered_total\{reason="max_rtt"\} [1-9]/m);
    } finally {
      await labSet(LAB, parseSetArgs(['a->b', 'loss=0%']), true);
    }
    // Link back: measured again, b passes.
    await waitFor('b passes again', async () => {
      const r = await filter(pod);
      return r.status === 200 && r.json.NodeNames.includes('b') ? true : undefined;
    }, 20_000);
  }, 60_000);

  it("an agent killed: its links go stale, and past the staleness age they neither filter nor penalise, and the decision says so", async () => {
    const pod = web('web-kill', '4ms'); // c is 6 ms from a: over the limit while c's agent measures it
    const fresh = await waitFor('c filtered on its fresh RTT', async () => {
      const r = await filter(pod);
      return r.status === 200 && r.json.FailedAndUnresolvableNodes?.c ? r : undefined;
    }, 10_000);
    expect(fresh.json.FailedAndUnresolvableNodes.c).toMatch(/RTT to a \(peer default\/db-0\) is [\d.]+ms, over the pod's max-rtt 4ms/);
    expect((await prioritize(pod)).status).toBe(200);
    const freshC = (await decision('prioritize', 'web-kill')).nodes!.find((n) => n.node === 'c')!;
    expect(freshC.stale).toBe(0);
    expect(freshC.raw).toBeLessThan(0.5); // penalised while fresh: qR(6 ms) = 2/(2+6) = 0.25

    const agent = state.agents.find((a) => a.node === 'c')!;
    expect(await isAlive(agent)).toBe(true);
    process.kill(agent.pid, 'SIGKILL');
    const killedAt = Date.now() / 1000;
    await waitFor('c agent gone', async () => ((await isAlive(agent)) ? undefined : true), 5000);
    expect((await labStatus(LAB)).agentsAlive.c).toBe(false);

    // Past the staleness age (counted from c's last measurement, which is before the kill).
    const stale = await waitFor('c no longer filtered', async () => {
      const r = await filter(pod);
      return r.status === 200 && r.json.NodeNames.includes('c') ? r : undefined;
    }, (RTT_MAX_AGE + 10) * 1000);
    expect(Date.now() / 1000 - killedAt).toBeLessThan(RTT_MAX_AGE + 10);
    expect(stale.json.FailedAndUnresolvableNodes?.c).toBeUndefined();
    const fd = await decision('filter', 'web-kill');
    expect(fd.lookups!.stale).toBeGreaterThanOrEqual(1);
    expect(fd.warnings.join('\n')).toMatch(/\d+ unknown and \d+ stale link values counted as neutral \(quality 0\.5\), never used to filter/);
    const c = fd.nodes!.find((n) => n.node === 'c')!;
    expect(c.filtered).toBeUndefined();
    expect(c.stale).toBe(1); // its RTT; its bandwidth was never measured (unknown)
    expect(c.links!.join('\n')).toMatch(
      new RegExp(`a \\[default/db-0\\] weight 1: rtt [\\d.]+ms stale: measured [\\d.]+s ago, max age ${RTT_MAX_AGE}s \\(neutral, not used for filtering\\)`),
    );

    // Not penalised either: c scores exactly the neutral quality, above its measured 6 ms's 0.25.
    const prio = await prioritize(pod);
    expect(prio.status).toBe(200);
    const pd = await decision('prioritize', 'web-kill');
    const cPrio = pd.nodes!.find((n) => n.node === 'c')!;
    expect(cPrio.raw).toBe(0.5);
    expect(cPrio.raw).toBeGreaterThan(freshC.raw);
    expect(pd.lookups!.stale).toBeGreaterThanOrEqual(1);
    // The other agents' links stay fresh: b is still judged on its measured RTT.
    expect(pd.nodes!.find((n) => n.node === 'b')!.stale).toBe(0);
    // The extender keeps the dead agent's last report and says it cannot reach it.
    const status = extender.cache.source.status?.() as Array<{ url: string; ok: boolean; lastError: string | null }>;
    expect(status.find((s) => s.url.startsWith(agentUrl('c')))).toMatchObject({ ok: false });
  }, 60_000);
});
