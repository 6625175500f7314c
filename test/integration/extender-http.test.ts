// The extender's HTTP server for real: fastify listening on 127.0.0.1 (ephemeral ports), requests
// with undici, kube-scheduler's wire-format bodies from test/fixtures/kube-scheduler (copies of
// /work/shared/fixtures/kube-scheduler), TLS with throwaway certificates made by openssl.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extenderConfigSchema, type ExtenderConfigInput } from '../../extender/config.js';
import { extenderFilterResultSchema, hostPriorityListSchema } from '../../extender/protocol.js';
import { LinkMatrix } from '../../src/linkMatrix.js';
import type { LinksReport } from '../../src/linkMetrics.js';
import type { Decision } from '../../extender/decisionLog.js';
import { createExtender, type Extender } from '../../extender/extender.js';
import { PodIndex } from '../../extender/pods/podIndex.js';
import type { PodInfo } from '../../extender/pods/podStore.js';
import { DirectSource } from '../../extender/sources/direct.js';
import type { MetricSource } from '../../extender/sources/source.js';
import { StaticSource } from '../../extender/sources/static.js';
import { readAnswer } from '../helpers/http.js';
import { built, describeWithCapabilities, missingCapabilities, openssl } from '../helpers/capability.js';

const FIXTURES = join(import.meta.dirname, '../fixtures/kube-scheduler');
const fixture = (f: string): Record<string, unknown> => JSON.parse(readFileSync(join(FIXTURES, f), 'utf8'));
const REQUEST_FIXTURES = readdirSync(FIXTURES).filter((f) => f.includes('-request.'));

const running: Extender[] = [];
afterAll(async () => {
  await Promise.all(running.map((e) => e.close()));
});

async function startExtender(opts: {
  config?: Partial<ExtenderConfigInput>;
  pods?: PodInfo[];
  source?: MetricSource;
}): Promise<{ ext: Extender; url: string; store: PodIndex }> {
  const config = extenderConfigSchema.parse({
    source: { type: 'static', links: [] },
    kubernetes: { enabled: false },
    ...opts.config,
  });
  const store = new PodIndex({ pods: opts.pods ?? [] });
  const ext = await createExtender({ config, podStore: store, ...(opts.source ? { source: opts.source } : {}) });
  running.push(ext);
  const url = await ext.start({ host: '127.0.0.1', port: 0 });
  await ext.cache.refresh();
  return { ext, url, store };
}

async function call(url: string, path: string, body?: unknown, raw?: string, dispatcher?: Agent) {
  const res = await request(`${url}${path}`, {
    method: body === undefined && raw === undefined ? 'GET' : 'POST',
    ...(body !== undefined || raw !== undefined
      ? { body: raw ?? JSON.stringify(body), headers: { 'content-type': 'application/json' } }
      : {}),
    ...(dispatcher ? { dispatcher } : {}),
  });
  return readAnswer(res);
}

const pod = (namespace: string, name: string, nodeName: string | undefined, labels: Record<string, string>, annotations: Record<string, string> = {}): PodInfo => ({
  namespace,
  name,
  labels,
  annotations,
  ...(nodeName ? { nodeName } : {}),
  phase: nodeName ? 'Running' : 'Pending',
});

function args(p: { namespace?: string; name: string; labels?: Record<string, string>; annotations?: Record<string, string> }, nodes: string[]) {
  return {
    Pod: { metadata: { name: p.name, namespace: p.namespace ?? 'default', labels: p.labels ?? {}, annotations: p.annotations ?? {} }, spec: {}, status: { phase: 'Pending' } },
    Nodes: null,
    NodeNames: nodes,
  };
}

async function decisions(url: string, query: string): Promise<Decision[]> {
  return (await call(url, `/api/v1/decisions?${query}`)).json.decisions;
}

describe('kube-scheduler fixture bodies through the real server', () => {
  let url: string;
  let ext: Extender;
  beforeAll(async () => {
    // the fixtures' frontend pod (namespace shop) is on L2S-M network shop-net with max-rtt 10ms
    ({ url, ext } = await startExtender({
      pods: [
        pod('shop', 'cart-0', 'node-a', { app: 'cart' }, { 'l2sm/networks': 'shop-net' }),
        pod('shop', 'catalog-0', 'node-a', { app: 'catalog' }, { 'l2sm/networks': 'shop-net' }),
      ],
      config: {
        source: {
          type: 'static',
          links: [
            { source: 'node-b', target: 'node-a', rtt: '2ms', bandwidth: '1Gbps' },
            { source: 'node-c', target: 'node-a', rtt: '42ms', bandwidth: '50Mbps' },
          ],
        },
      },
    }));
  });

  for (const f of REQUEST_FIXTURES) {
    const verb = f.startsWith('filter') ? 'filter' : 'prioritize';
    const nodeList = f.includes('nodelist');
    const withPeers = !f.includes('captured'); // the captured pods have no annotations
    it(`${f} -> /${verb}: the shape kube-scheduler decodes`, async () => {
      const body = fixture(f);
      const { status, json } = await call(url, `/${verb}`, body);
      expect(status).toBe(200);
      const input = ['node-a', 'node-b', 'node-c'];
      if (verb === 'filter') {
        const r = extenderFilterResultSchema.parse(json);
        expect(r.Error).toBe('');
        expect(r.FailedNodes).toEqual({});
        const passed = nodeList ? r.Nodes!.items.map((n: any) => n.metadata.name) : r.NodeNames!;
        if (nodeList) {
          // NodeList mode: Nodes with the original objects (NodeNames alone would be ignored)
          expect(r.NodeNames).toBeNull();
          const inputItems = (body.Nodes as { items: any[] }).items;
          expect(r.Nodes!.items).toEqual(inputItems.filter((n) => passed.includes(n.metadata.name)));
        } else {
          expect(r.Nodes).toBeNull();
        }
        for (const n of [...passed, ...Object.keys(r.FailedAndUnresolvableNodes)]) expect(input).toContain(n);
        expect(new Set([...passed, ...Object.keys(r.FailedAndUnresolvableNodes)]).size).toBe(3);
        if (withPeers) {
          expect(passed).toEqual(['node-a', 'node-b']);
          expect(r.FailedAndUnresolvableNodes['node-c']).toMatch(/RTT to node-a .* 42ms, over the pod's max-rtt 10ms/);
        } else {
          expect(passed).toEqual(input);
        }
      } else {
        const list = hostPriorityListSchema.parse(json);
        expect(list.map((h) => h.Host)).toEqual(input);
        if (withPeers) {
          const s = Object.fromEntries(list.map((h) => [h.Host, h.Score]));
          expect(s['node-a']).toBe(10);
          expect(s['node-b']!).toBeGreaterThan(s['node-c']!);
        } else {
          expect(list.every((h) => h.Score === 0)).toBe(true);
        }
      }
    });
  }

  it('accepts lowercase keys (older kube-schedulers) and answers with Go names', async () => {
    const body = fixture('prioritize-request.nodenames.json');
    const { status, json } = await call(url, '/prioritize', { pod: body.Pod, nodes: null, nodenames: ['node-c', 'node-a'] });
    expect(status).toBe(200);
    expect(json.map((h: { Host: string }) => h.Host)).toEqual(['node-c', 'node-a']);
    expect(Object.keys(json[0])).toEqual(['Host', 'Score']);
  });

  it('the decision log explains the fixture decisions, with the annotation warning', async () => {
    const [d] = await decisions(url, 'pod=shop/frontend-7d9c8b6f5-x2k4q&verb=filter&limit=1');
    expect(d).toMatchObject({ verb: 'filter', outcome: 'scored', limits: 'max-rtt 10ms', passed: 2 });
    expect(d!.peers!.map((p) => p.id)).toEqual(['shop/cart-0', 'shop/catalog-0']);
    expect(d!.warnings.join('\n')).toMatch(/app=cart,app=catalog" can never match/);
    const c = d!.nodes!.find((n) => n.node === 'node-c')!;
    expect(c.filtered).toMatch(/max-rtt 10ms/);
    expect(c.links!.join('\n')).toMatch(/rtt 42ms/);
  });

  it('a 5000-node NodeList body (~20 MB) is accepted', async () => {
    const template = (fixture('filter-request.nodelist.captured-v1.26.json').Nodes as { items: any[] }).items[0];
    const items = Array.from({ length: 5000 }, (_, i) => ({ ...template, metadata: { ...template.metadata, name: `n-${i}` } }));
    const body = { ...fixture('filter-request.nodelist.json'), Nodes: { metadata: {}, items } };
    const raw = JSON.stringify(body);
    expect(raw.length).toBeGreaterThan(10 * 1024 * 1024);
    const { status, json } = await call(url, '/filter', undefined, raw);
    expect(status).toBe(200);
    expect(json.Nodes.items).toHaveLength(5000);
  });

  it('/metrics has every agreed series', async () => {
    const { status, text } = await call(url, '/metrics');
    expect(status).toBe(200);
    for (const name of [
      'lpm_extender_request_duration_seconds_bucket{le="0.005",verb="filter"}',
      'lpm_extender_request_duration_seconds_count{verb="prioritize"}',
      'lpm_extender_decisions_total{verb="filter",outcome="scored"}',
      'lpm_extender_nodes_filtered_total{reason="max_rtt"}',
      'lpm_extender_nodes_filtered_total{reason="min_bandwidth"} 0',
      'lpm_extender_matrix_age_seconds',
      'lpm_extender_matrix_links 2',
      'lpm_extender_link_lookups_total{status="fresh"}',
      'lpm_extender_source_refreshes_total{source="static",result="success"}',
      'lpm_build_info{version=',
      'component="extender"',
    ])
      expect(text).toContain(name);
    expect(ext.metrics).toBeDefined();
  });

  it('/api/v1/matrix serves the current matrix, /healthz and /readyz answer', async () => {
    const links = (await call(url, '/api/v1/matrix')).json;
    expect(links.source).toBe('static');
    expect(links.nodes).toEqual(['node-a', 'node-b', 'node-c']);
    expect(links.links[0]).toMatchObject({ source: 'node-b', target: 'node-a', metrics: { rtt_seconds: { value: 0.002 } } });
    expect((await call(url, '/healthz')).status).toBe(200);
    expect((await call(url, '/readyz')).json).toEqual({ status: 'ready' });
  });
});

describe('NetMARKS seed example over HTTP', () => {
  it('prioritize for P ranks node3 > node2 > node1 > node4, proportional to 160:110:80:0', async () => {
    // F, W, S on nodes 1-3; traffic with P: F 30+50, W 40+70, S 60+100. No link data, and
    // unknownQuality 0: quality is 1 on the same node and 0 elsewhere, i.e. NetMARKS.
    const { url } = await startExtender({
      pods: [pod('default', 'f', 'node1', { app: 'f' }), pod('default', 'w', 'node2', { app: 'w' }), pod('default', 's', 'node3', { app: 's' })],
      config: { scoring: { unknownQuality: 0 } },
    });
    const P = { name: 'p', annotations: { 'lpm.l2sm.io/peers': 'app in (f,w,s)', 'lpm.l2sm.io/peer-weights': 'app=f: 80; app=w: 110; app=s: 160' } };
    const { status, json } = await call(url, '/prioritize', args(P, ['node1', 'node2', 'node3', 'node4']));
    expect(status).toBe(200);
    expect(json).toEqual([
      { Host: 'node1', Score: 5 },
      { Host: 'node2', Score: 7 },
      { Host: 'node3', Score: 10 },
      { Host: 'node4', Score: 0 },
    ]);
    const raw = [80, 110, 160, 0];
    json.forEach((h: { Score: number }, i: number) => expect(Math.abs(h.Score - (10 * raw[i]!) / 160)).toBeLessThanOrEqual(0.5));
  });
});

describe('link-aware answers over HTTP', () => {
  const peersOnA = [pod('default', 'db-0', 'node-a', { app: 'db' }), pod('default', 'db-1', 'node-a', { app: 'db' })];
  const web = (annotations: Record<string, string> = {}) => ({ name: 'web', labels: { app: 'web' }, annotations: { 'lpm.l2sm.io/peers': 'app=db', ...annotations } });
  const linksTo = (cAge: string) => ({
    source: {
      type: 'static' as const,
      links: [
        { source: 'node-b', target: 'node-a', rtt: '2ms', bandwidth: '1Gbit/s' },
        { source: 'node-c', target: 'node-a', rtt: '40ms', bandwidth: '50Mbps', age: cAge },
      ],
    },
  });

  it('B (2 ms, 1 Gbit/s to A) scores higher than C (40 ms, 50 Mbit/s)', async () => {
    const { url } = await startExtender({ pods: peersOnA, config: linksTo('0s') });
    const { json } = await call(url, '/prioritize', args(web(), ['node-c', 'node-b']));
    expect(json[1]).toEqual({ Host: 'node-b', Score: 10 });
    expect(json[0].Host).toBe('node-c');
    expect(json[0].Score).toBeLessThan(10);
  });

  it('max-rtt 10ms: C filtered with a reason in FailedAndUnresolvableNodes, counted', async () => {
    const { url } = await startExtender({ pods: peersOnA, config: linksTo('0s') });
    const { status, json } = await call(url, '/filter', args(web({ 'lpm.l2sm.io/max-rtt': '10ms' }), ['node-b', 'node-c']));
    expect(status).toBe(200);
    expect(json.NodeNames).toEqual(['node-b']);
    expect(Object.keys(json.FailedAndUnresolvableNodes)).toEqual(['node-c']);
    expect(json.FailedAndUnresolvableNodes['node-c']).toMatch(/RTT to node-a .* is 40ms, over the pod's max-rtt 10ms/);
    expect(json.FailedNodes).toEqual({});
    expect((await call(url, '/metrics')).text).toContain('lpm_extender_nodes_filtered_total{reason="max_rtt"} 1');
  });

  it("C's metric stale: not filtered, not penalised, and the decision says why", async () => {
    const { url } = await startExtender({ pods: peersOnA, config: linksTo('1h') });
    const f = await call(url, '/filter', args(web({ 'lpm.l2sm.io/max-rtt': '10ms' }), ['node-b', 'node-c']));
    expect(f.json.NodeNames).toEqual(['node-b', 'node-c']);
    expect(f.json.FailedAndUnresolvableNodes).toEqual({});
    const p = await call(url, '/prioritize', args(web({ 'lpm.l2sm.io/max-rtt': '10ms' }), ['node-b', 'node-c']));
    // neutral quality (1/2) rather than its bad values: same score as a node never measured
    const fresh = await startExtender({ pods: peersOnA, config: linksTo('0s') });
    const pFresh = await call(fresh.url, '/prioritize', args(web(), ['node-b', 'node-c']));
    const unknown = await call(url, '/prioritize', args(web(), ['node-b', 'node-z']));
    expect(p.json[1].Score).toBeGreaterThan(pFresh.json[1].Score);
    expect(p.json[1].Score).toBe(unknown.json[1].Score);
    const [d] = await decisions(url, 'pod=default/web&verb=filter');
    const c = d!.nodes!.find((n) => n.node === 'node-c')!;
    expect(c.filtered).toBeUndefined();
    expect(c.stale).toBe(2);
    expect(c.links!.join('\n')).toMatch(/rtt 40ms stale: measured 60m ago, max age 30s \(neutral, not used for filtering\)/);
    expect(d!.warnings.join('\n')).toMatch(/2 stale link values counted as neutral/);
    expect((await call(url, '/metrics')).text).toMatch(/lpm_extender_link_lookups_total\{status="stale"\} [1-9]/);
  });

  it('never answers a node name that was not in the input', async () => {
    // peers on A, which is not a candidate; duplicates and odd names in the input
    const { url } = await startExtender({ pods: peersOnA, config: linksTo('0s') });
    for (const nodes of [['node-b'], ['node-c', 'node-b', 'node-c'], ['node-z', 'node-y'], []]) {
      const f = await call(url, '/filter', args(web({ 'lpm.l2sm.io/max-rtt': '10ms' }), nodes));
      expect(f.status).toBe(200);
      for (const n of [...f.json.NodeNames, ...Object.keys(f.json.FailedAndUnresolvableNodes)]) expect(nodes).toContain(n);
      const p = await call(url, '/prioritize', args(web(), nodes));
      expect(p.json.map((h: { Host: string }) => h.Host)).toEqual(nodes);
    }
  });

  it('a pod with no peers gets 0 everywhere and no filtering', async () => {
    const { url } = await startExtender({ pods: peersOnA, config: linksTo('0s') });
    const lonely = { name: 'x', annotations: { 'lpm.l2sm.io/max-rtt': '1ms' } };
    expect((await call(url, '/prioritize', args(lonely, ['node-a', 'node-b', 'node-c']))).json.map((h: { Score: number }) => h.Score)).toEqual([0, 0, 0]);
    expect((await call(url, '/filter', args(lonely, ['node-a', 'node-b', 'node-c']))).json.NodeNames).toEqual(['node-a', 'node-b', 'node-c']);
    expect((await call(url, '/metrics')).text).toContain('lpm_extender_decisions_total{verb="prioritize",outcome="neutral"} 1');
  });

  it('garbage limits are ignored with a warning in the decision', async () => {
    const { url } = await startExtender({ pods: peersOnA, config: linksTo('0s') });
    const f = await call(url, '/filter', args(web({ 'lpm.l2sm.io/max-rtt': '5 parsecs' }), ['node-b', 'node-c']));
    expect(f.json.NodeNames).toEqual(['node-b', 'node-c']);
    const [d] = await decisions(url, 'verb=filter');
    expect(d!.warnings.join('\n')).toMatch(/max-rtt ignored: "5 parsecs"/);
  });
});

describe('placement race: the extender remembers its own choice', () => {
  it('prioritize records the unique best node; the next peer sees it before any watch event', async () => {
    const web = { name: 'web-0', labels: { app: 'web' }, annotations: { 'lpm.l2sm.io/peers': 'app=db' } };
    const cache = { name: 'cache-0', labels: { app: 'cache' }, annotations: { 'lpm.l2sm.io/peers': 'app=web' } };
    // both pending, as the watch reports pods before kube-scheduler asks about them
    const { url, store } = await startExtender({
      pods: [pod('default', 'db-0', 'node-a', { app: 'db' }), pod('default', 'web-0', undefined, web.labels, web.annotations), pod('default', 'cache-0', undefined, cache.labels, cache.annotations)],
      config: { source: { type: 'static', links: [{ source: 'node-b', target: 'node-a', rtt: '1ms', bandwidth: '1Gbps' }] } },
    });
    const p = await call(url, '/prioritize', args(web, ['node-a', 'node-b', 'node-c']));
    expect(p.json.find((h: { Score: number }) => h.Score === 10).Host).toBe('node-a');
    expect(store.get('default', 'web-0')?.nodeName).toBe('node-a');
    // a cache pod that peers with web, scheduled right after: web-0 on A pulls it there
    const p2 = await call(url, '/prioritize', args(cache, ['node-c', 'node-a']));
    expect(p2.json).toEqual([
      { Host: 'node-c', Score: expect.any(Number) },
      { Host: 'node-a', Score: 10 },
    ]);
    const [d] = await decisions(url, 'pod=default/cache-0');
    expect(d!.peers!.map((x) => [x.id, x.node])).toEqual([['default/web-0', 'node-a']]);
  });

  it('filter records the node when exactly one passes (kube-scheduler skips prioritize then)', async () => {
    const web = { name: 'web-1', labels: { app: 'web' }, annotations: { 'lpm.l2sm.io/peers': 'app=db', 'lpm.l2sm.io/max-rtt': '5ms' } };
    const { url, store } = await startExtender({
      pods: [pod('default', 'db-0', 'node-a', { app: 'db' }), pod('default', 'web-1', undefined, web.labels, web.annotations)],
      config: { source: { type: 'static', links: [{ source: 'node-c', target: 'node-a', rtt: '50ms' }] } },
    });
    const f = await call(url, '/filter', args(web, ['node-c', 'node-a']));
    expect(f.json.NodeNames).toEqual(['node-a']);
    expect(store.isAssumed('default', 'web-1')).toBe(true);
    expect(store.size).toEqual({ confirmed: 2, assumed: 1 }); // that one choice, nothing else
    expect(store.get('default', 'web-1')?.nodeName).toBe('node-a');
  });
});

describe('never blocking scheduling for lack of data', () => {
  it('no matrix yet: 200, neutral scores, no filtering, counted; /readyz says why', async () => {
    let calls = 0;
    const failing: MetricSource = {
      type: 'direct',
      interval: 3600,
      async fetch() {
        calls++;
        throw new Error('agents unreachable');
      },
    };
    const { url } = await startExtender({ pods: [pod('default', 'db-0', 'node-a', { app: 'db' })], source: failing });
    expect(calls).toBeGreaterThan(0);
    const web = { name: 'web', annotations: { 'lpm.l2sm.io/peers': 'app=db', 'lpm.l2sm.io/max-rtt': '1ms' } };
    const f = await call(url, '/filter', args(web, ['node-a', 'node-b']));
    expect(f.status).toBe(200);
    expect(f.json.NodeNames).toEqual(['node-a', 'node-b']);
    const p = await call(url, '/prioritize', args(web, ['node-a', 'node-b']));
    expect(p.status).toBe(200);
    expect(p.json).toEqual([
      { Host: 'node-a', Score: 0 },
      { Host: 'node-b', Score: 0 },
    ]);
    const [d] = await decisions(url, 'verb=prioritize');
    expect(d).toMatchObject({ outcome: 'neutral', reason: 'no link matrix loaded yet', matrix: null });
    const metrics = (await call(url, '/metrics')).text;
    expect(metrics).toContain('lpm_extender_decisions_total{verb="prioritize",outcome="neutral"} 1');
    expect(metrics).toMatch(/lpm_extender_source_refreshes_total\{source="direct",result="error"\} [1-9]/);
    const ready = await call(url, '/readyz');
    expect(ready.status).toBe(503);
    expect(ready.json.waiting[0]).toMatch(/agents unreachable/);
  });

  it('a failed refresh keeps the last good matrix', async () => {
    let fail = false;
    const m = new LinkMatrix();
    m.set('node-b', 'node-a', 'rtt_seconds', { value: 0.001, timestamp: Date.now() / 1000 });
    const flaky = new StaticSource({
      matrix: () => {
        if (fail) throw new Error('boom');
        return m;
      },
    });
    const { url, ext } = await startExtender({ source: flaky });
    fail = true;
    expect(await ext.cache.refresh()).toBe(false);
    const links = (await call(url, '/api/v1/matrix')).json;
    expect(links.links).toHaveLength(1);
    expect(links.lastError.message).toBe('boom');
    expect((await call(url, '/readyz')).status).toBe(200);
  });

  it('a pod cache that has not loaded yet: neutral, and /readyz waits for it', async () => {
    const { url, store } = await startExtender({ pods: [pod('default', 'db-0', 'node-a', { app: 'db' })] });
    store.ready = false;
    const p = await call(url, '/prioritize', args({ name: 'web', annotations: { 'lpm.l2sm.io/peers': 'app=db' } }, ['node-a', 'node-b']));
    expect(p.json.map((h: { Score: number }) => h.Score)).toEqual([0, 0]);
    expect((await decisions(url, 'verb=prioritize'))[0]!.reason).toBe('pod cache not loaded yet');
    expect((await call(url, '/readyz')).json.waiting).toEqual(['pod cache (initial list pending)']);
  });

  it('malformed bodies: 400 with a message naming the field, counted as errors', async () => {
    const { url } = await startExtender({});
    const noName = await call(url, '/filter', { Pod: { metadata: {} }, NodeNames: ['a'] });
    expect(noName.status).toBe(400);
    expect(noName.json.Error).toMatch(/^Pod\.metadata\.name: Required/);
    const badNames = await call(url, '/prioritize', { Pod: { metadata: { name: 'p' } }, NodeNames: [1] });
    expect(badNames.status).toBe(400);
    expect(badNames.json.Error).toMatch(/^NodeNames\[0\]: Expected string/);
    const notJson = await call(url, '/prioritize', undefined, '{"Pod": ');
    expect(notJson.status).toBe(400);
    expect(notJson.json.Error).toMatch(/body: invalid JSON|JSON/);
    const metrics = (await call(url, '/metrics')).text;
    expect(metrics).toContain('lpm_extender_decisions_total{verb="filter",outcome="error"} 1');
    expect(metrics).toContain('lpm_extender_decisions_total{verb="prioritize",outcome="error"} 2');
    const [d] = await decisions(url, 'verb=filter');
    expect(d).toMatchObject({ outcome: 'error', reason: expect.stringMatching(/Pod\.metadata\.name/) });
  });
});

describe('direct source: scraping real agent endpoints', () => {
  const servers: Server[] = [];
  afterAll(async () => {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  });
  async function agent(handler: (path: string) => { status: number; body: string }): Promise<string> {
    const s = createServer((req, res) => {
      const { status, body } = handler(req.url ?? '');
      res.writeHead(status, { 'content-type': 'application/json' }).end(body);
    });
    servers.push(s);
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
  }

  it('merges the agents reports, survives a down or garbage agent, keeps each agent last good report', async () => {
    const now = Date.now() / 1000;
    let bUp = true;
    const report = (node: string, target: string, rtt: number): LinksReport => ({
      node,
      network: 'lpm-measurement',
      generatedAt: now,
      links: [{ source: node, target, network: 'lpm-measurement', metrics: { rtt_seconds: { value: rtt, timestamp: now } }, lastResults: {} }],
    });
    const a = await agent((p) => (p === '/api/v1/links' ? { status: 200, body: JSON.stringify(report('A', 'B', 0.003)) } : { status: 404, body: '{}' }));
    const b = await agent(() => (bUp ? { status: 200, body: JSON.stringify(report('B', 'A', 0.004)) } : { status: 500, body: 'down' }));
    const garbage = await agent(() => ({ status: 200, body: JSON.stringify({ node: 'G', links: 'nope' }) }));
    const source = new DirectSource([a, b, `${garbage}/`], 3600, 2);
    const { url, ext } = await startExtender({ source });
    let links = (await call(url, '/api/v1/matrix')).json;
    expect(links.links.map((l: { source: string }) => l.source)).toEqual(['A', 'B']);
    const status = links.sourceStatus as Array<{ ok: boolean; lastError: string | null }>;
    expect(status.map((s) => s.ok)).toEqual([true, true, false]);
    expect(status[2]!.lastError).toMatch(/malformed report at (network|links)/);
    bUp = false;
    expect(await ext.cache.refresh()).toBe(true);
    links = (await call(url, '/api/v1/matrix')).json;
    expect(links.links).toHaveLength(2); // B's last good report kept
    expect(links.sourceStatus[1].lastError).toMatch(/HTTP 500/);
  });

  it('every agent down: the refresh fails and is counted', async () => {
    const down = await agent(() => ({ status: 503, body: '' }));
    const { url, ext } = await startExtender({ source: new DirectSource([down], 3600, 2) });
    expect(ext.cache.current).toBeUndefined();
    expect((await call(url, '/metrics')).text).toMatch(/lpm_extender_source_refreshes_total\{source="direct",result="error"\} 1/);
  });
});

const missingOpenssl = await missingCapabilities([openssl()]);

describeWithCapabilities('TLS (throwaway certificates from openssl)', missingOpenssl, () => {
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lpm-extender-tls-'));
    const ssl = (...a: string[]) => execa('openssl', a, { cwd: dir });
    writeFileSync(join(dir, 'san.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
    await ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=lpm-test-ca', '-keyout', 'ca.key', '-out', 'ca.crt');
    for (const name of ['server', 'client']) {
      await ssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.csr`);
      await ssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '1', '-out', `${name}.crt`, ...(name === 'server' ? ['-extfile', 'san.cnf'] : []));
    }
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const body = args({ name: 'p' }, ['a', 'b']);

  it('serves https with the configured certificate', async () => {
    const { url } = await startExtender({ config: { tls: { cert: join(dir, 'server.crt'), key: join(dir, 'server.key') } } });
    expect(url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const trusting = new Agent({ connect: { ca: readFileSync(join(dir, 'ca.crt')) } });
    const r = await call(url, '/prioritize', body, undefined, trusting);
    expect(r.json).toEqual([
      { Host: 'a', Score: 0 },
      { Host: 'b', Score: 0 },
    ]);
    // a client that does not trust the CA refuses the server
    await expect(call(url, '/healthz', undefined, undefined, new Agent())).rejects.toThrow(/certificate/i);
    await trusting.close();
  });

  it('mutual TLS: a client without a certificate from clientCA is refused', async () => {
    const { url } = await startExtender({
      config: { tls: { cert: join(dir, 'server.crt'), key: join(dir, 'server.key'), clientCA: join(dir, 'ca.crt') } },
    });
    const ca = readFileSync(join(dir, 'ca.crt'));
    const anonymous = new Agent({ connect: { ca } });
    await expect(call(url, '/prioritize', body, undefined, anonymous)).rejects.toThrow();
    const withCert = new Agent({ connect: { ca, cert: readFileSync(join(dir, 'client.crt')), key: readFileSync(join(dir, 'client.key')) } });
    const r = await call(url, '/prioritize', body, undefined, withCert);
    expect(r.status).toBe(200);
    await Promise.all([anonymous.close(), withCert.close()]);
  });
});

const missingBuild = await missingCapabilities([built()]);

describeWithCapabilities('lpm extender command (needs npm run build)', missingBuild, () => {
  const bin = join(import.meta.dirname, '../../bin/lpm.js');

  it('--help lists the flags', async () => {
    const r = await execa('node', [bin, 'extender', '--help']);
    expect(r.stdout).toMatch(/--config FILE/);
    expect(r.stdout).toMatch(/--log-level LEVEL/);
  });

  it('runs from a config file, answers, and stops on SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lpm-extender-cmd-'));
    try {
      // pick a free port by binding and releasing it
      const probe = createServer();
      await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
      const port = (probe.address() as AddressInfo).port;
      await new Promise((r) => probe.close(r));
      const cfg = join(dir, 'extender.yaml');
      writeFileSync(
        cfg,
        [
          `listen: 127.0.0.1:${port}`,
          'kubernetes: { enabled: false }',
          'source:',
          '  type: static',
          '  links: [{ source: b, target: a, rtt: 1ms }]',
          'pods: [{ name: db-0, labels: { app: db }, nodeName: a }]',
        ].join('\n'),
      );
      const child = execa('node', [bin, 'extender', '--config', cfg, '--log-level', 'warn'], { reject: false });
      try {
        const url = `http://127.0.0.1:${port}`;
        let ready = false;
        for (let i = 0; i < 100 && !ready; i++) {
          ready = await call(url, '/readyz').then((r) => r.status === 200, () => false);
          if (!ready) await new Promise((r) => setTimeout(r, 100));
        }
        expect(ready).toBe(true);
        const r = await call(url, '/prioritize', args({ name: 'w', annotations: { 'lpm.l2sm.io/peers': 'app=db' } }, ['b', 'a']));
        expect(r.json).toEqual([
          { Host: 'b', Score: expect.any(Number) },
          { Host: 'a', Score: 10 },
        ]);
      } finally {
        child.kill('SIGTERM');
      }
      const done = await child;
      expect(done.exitCode).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a bad config is reported with file, line and field', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lpm-extender-cmd-'));
    try {
      const cfg = join(dir, 'bad.yaml');
      writeFileSync(cfg, 'source:\n  type: direct\n  agents: [not-a-url]\n');
      const r = await execa('node', [bin, 'extender', '--config', cfg], { reject: false });
      expect(r.exitCode).toBe(2);
      expect(r.stderr).toMatch(/bad\.yaml:3: source\.agents\[0\]/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
