// The traffic source end to end on real parts: a loopback exporter serving Istio's standard
// request/response byte counters for three apps, a real Prometheus (Debian's) scraping it, and an
// extender whose peers.traffic runs the shipped default query. Checks that the pods of the apps a
// pending pod talks to become its peers, weighted by the measured bytes/s, that prioritize
// follows the heaviest traffic, and that Prometheus going away changes nothing but staleness.
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { extenderConfigSchema } from '../../extender/config.js';
import { DEFAULT_TRAFFIC_QUERY } from '../../extender/peers/trafficMatrix.js';
import { createExtender, type Extender } from '../../extender/extender.js';
import { stopProcess } from '../../scenarios/lab/processes.js';
import { freeLoopbackPort, startLabPrometheus } from '../../scenarios/lab/prometheus.js';
import type { ProcessRecord } from '../../scenarios/lab/state.js';
import { describeWithCapabilities, missingCapabilities, prometheus } from '../helpers/capability.js';
import { waitFor } from '../helpers/waitFor.js';

const missing = await missingCapabilities([prometheus()]);

// Client -> server calls in namespace shop, bytes/s: front sends 1000 to cart and gets 3000 back;
// front and search exchange 100 + 100.
const CALLS = [
  { src: 'front', dst: 'cart', request: 1000, response: 3000 },
  { src: 'front', dst: 'search', request: 100, response: 100 },
];

/** Istio-shaped counters that grow at the rates above (computed at scrape time: exact rates). */
function startExporter(): Promise<Server> {
  const started = Date.now() / 1000;
  const server = createServer((req, res) => {
    if (req.url !== '/metrics') return res.writeHead(404).end();
    const t = Date.now() / 1000 - started;
    const lines = ['# TYPE istio_request_bytes_sum counter', '# TYPE istio_response_bytes_sum counter'];
    for (const c of CALLS) {
      const labels = `source_app="${c.src}",source_workload_namespace="shop",destination_app="${c.dst}",destination_workload_namespace="shop",response_code="200",reporter="destination"`;
      lines.push(`istio_request_bytes_sum{${labels}} ${c.request * t}`, `istio_response_bytes_sum{${labels}} ${c.response * t}`);
    }
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(`${lines.join('\n')}\n`);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

async function post(url: string, body: unknown): Promise<{ status: number; json: any }> {
  const res = await request(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.statusCode, json: await res.body.json() };
}

const pending = { metadata: { name: 'front-7', namespace: 'shop', uid: 'u-front-7', labels: { app: 'front' } } };
const args = { Pod: pending, NodeNames: ['a', 'b', 'c'] };

describeWithCapabilities('traffic source: Istio counters -> Prometheus -> peer weights', missing, () => {
  let exporter: Server;
  let prometheus: ProcessRecord | undefined;
  let dir: string;
  let extender: Extender;
  let url: string;

  beforeAll(async () => {
    exporter = await startExporter();
    const port = await freeLoopbackPort(0);
    dir = await mkdtemp(join(tmpdir(), 'lpm-traffic-'));
    prometheus = await startLabPrometheus(
      { agents: [], extra: [{ job: 'istio-mesh', targets: [`127.0.0.1:${(exporter.address() as AddressInfo).port}`] }] },
      { lab: 'ttraffic', dir, port, scrapeInterval: 1 },
    );
    const config = extenderConfigSchema.parse({
      // every link alike: only where the peers run (and how much they talk) tells the nodes apart
      source: {
        type: 'static',
        links: ['a', 'b', 'c'].flatMap((s) =>
          ['a', 'b', 'c'].filter((t) => t !== s).map((t) => ({ source: s, target: t, rtt: '5ms', bandwidth: '100Mbps' })),
        ),
      },
      kubernetes: { enabled: false },
      // the shipped query over a 10 s window: rate() divides by the whole window, so over 5m a
      // series a few seconds old reads far below its rate
      peers: { traffic: { url: `http://127.0.0.1:${port}`, query: DEFAULT_TRAFFIC_QUERY.replaceAll('[5m]', '[10s]'), interval: '1s', timeout: '2s' } },
      pods: [
        { namespace: 'shop', name: 'cart-0', labels: { app: 'cart' }, nodeName: 'b' },
        { namespace: 'shop', name: 'search-0', labels: { app: 'search' }, nodeName: 'c' },
        { namespace: 'shop', name: 'other-0', labels: { app: 'other' }, nodeName: 'a' },
      ],
    });
    extender = await createExtender({ config });
    url = await extender.start({ host: '127.0.0.1', port: 0 });
  }, 60_000);

  afterAll(async () => {
    await extender?.close().catch(() => undefined);
    if (prometheus) await stopProcess(prometheus).catch(() => undefined);
    await new Promise((r) => exporter?.close(r));
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('runs the default Istio query and weighs the peers of talking apps by their bytes/s', async () => {
    const front = { namespace: 'shop', app: 'front' };
    const near = (v: number, expected: number) => Math.abs(v - expected) <= 0.1 * expected;
    // until Prometheus has scraped for a whole rate() window
    const traffic = await waitFor('the traffic of both app pairs, within 10 %', async () => {
      const snap = extender.traffic?.current;
      const m = snap?.matrix;
      if (m && m.size === 2 && near(m.between(front, { namespace: 'shop', app: 'cart' }), 4000)) return m;
      throw new Error(`now ${JSON.stringify(m)}, last error ${JSON.stringify(extender.traffic?.lastError)}`);
    }, 45_000);
    expect(near(traffic.between(front, { namespace: 'shop', app: 'search' }), 200)).toBe(true);

    const prio = await post(`${url}/prioritize`, args);
    expect(prio.status).toBe(200);
    const score = Object.fromEntries((prio.json as Array<{ Host: string; Score: number }>).map((h) => [h.Host, h.Score]));
    // b runs cart (4000 B/s with front), c runs search (200 B/s), a runs neither
    expect(score.b).toBe(10);
    expect(score.c).toBeLessThan(score.b!);

    const decisions = (await (await request(`${url}/api/v1/decisions?verb=prioritize&limit=1`)).body.json()) as any;
    const last = (Array.isArray(decisions) ? decisions : decisions.decisions)[0];
    const peers = Object.fromEntries(last.peers.map((p: any) => [p.id, p]));
    expect(Object.keys(peers).sort()).toEqual(['shop/cart-0', 'shop/search-0']);
    expect(peers['shop/cart-0'].via).toEqual(['traffic shop:app=cart']);
    expect(peers['shop/cart-0'].weightFrom).toBe('traffic shop:app=cart');
    expect(peers['shop/cart-0'].weight).toBeGreaterThan(3600);
    expect(peers['shop/cart-0'].weight).toBeLessThan(4400);
    // raw(c) = 200 + 4000 q > raw(a) = 4200 q (q < 1: the same link quality everywhere)
    const raw = Object.fromEntries(last.nodes.map((n: any) => [n.node, n.raw]));
    expect(raw.b).toBeGreaterThan(raw.c);
    expect(raw.c).toBeGreaterThan(raw.a);

    const api = (await (await request(`${url}/api/v1/traffic`)).body.json()) as any;
    expect(api.lastError).toBeNull();
    expect(api.pairs.map((p: any) => [p.a, p.b])).toEqual([
      ['shop/cart', 'shop/front'],
      ['shop/front', 'shop/search'],
    ]);
    const metrics = await (await request(`${url}/metrics`)).body.text();
    expect(metrics).toMatch(/lpm_extender_source_refreshes_total\{source="traffic",result="success"\} [1-9]/);
  }, 60_000);

  it('Prometheus gone: the last traffic stays, refreshes count as errors, scheduling answers as before', async () => {
    const before = (await post(`${url}/prioritize`, args)).json;
    expect(before.find((h: { Host: string }) => h.Host === 'b').Score).toBe(10);
    await stopProcess(prometheus!);
    prometheus = undefined;
    await waitFor('a failed traffic refresh', async () => (extender.traffic?.lastError ? true : undefined), 20_000);
    const after = await post(`${url}/prioritize`, args);
    expect(after.status).toBe(200);
    expect(after.json).toEqual(before);
    const metrics = await (await request(`${url}/metrics`)).body.text();
    expect(metrics).toMatch(/lpm_extender_source_refreshes_total\{source="traffic",result="error"\} [1-9]/);
  }, 60_000);
});
