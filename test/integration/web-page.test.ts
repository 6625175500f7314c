// The extender's web page in a real browser: Debian's Chromium (/usr/bin/chromium, installed by
// scripts/setup.sh; never a downloaded browser) driven by playwright-core, against a real
// extender on 127.0.0.1 fed a known static matrix (one value deliberately stale, one pair never
// measured) and a pod store with peers. One filter + prioritize pair makes a decision exist.
// Saves a screenshot to test/artifacts/web-page.png.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { request } from 'undici';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { z } from 'zod';
import { extenderConfigSchema, staticLinkSchema } from '../../extender/config.js';
import { createExtender, type Extender } from '../../extender/extender.js';
import { PodIndex } from '../../extender/pods/podIndex.js';
import { StaticSource } from '../../extender/sources/static.js';
import { chromium as chromiumCheck, describeWithCapabilities, missingCapabilities } from '../helpers/capability.js';

const CHROMIUM = '/usr/bin/chromium';
const missing = await missingCapabilities([chromiumCheck(CHROMIUM)]);
const ARTIFACTS = join(import.meta.dirname, '..', 'artifacts');
const SCREENSHOT = join(ARTIFACTS, 'web-page.png');
// A pod name that would run script if the page inserted it as HTML.
// Pod names must be Kubernetes names (the extender answers 400 otherwise), but annotation text
// reaches the page in the decision's warnings: the page must show it as text, never run it.
const EVIL_TEXT = '<img src=x onerror="window.__xss=1">';

// Four nodes. RTT edge->cloud is 2 minutes old (max age 30 s: stale) and cloud->edge RTT was never
// measured; core->edge was never measured at all. far is fresh and too far for the pod's max-rtt.
const config = extenderConfigSchema.parse({
  listen: '127.0.0.1:0',
  source: { type: 'static', links: [] },
  kubernetes: { enabled: false },
  staleness: { rttInterval: '10s', bandwidthInterval: '5m' },
});
const source = new StaticSource(
  {
    links: z.array(staticLinkSchema).parse([
      { source: 'edge', target: 'core', rtt: '4ms', bandwidth: '50Mbps' },
      { source: 'edge', target: 'cloud', rtt: '42ms', bandwidth: '10Mbps', age: '2m' },
      { source: 'core', target: 'cloud', rtt: '20ms', bandwidth: '100Mbps' },
      { source: 'cloud', target: 'core', rtt: '21ms', bandwidth: '95Mbps' },
      { source: 'cloud', target: 'edge', bandwidth: '12Mbps' },
      { source: 'far', target: 'cloud', rtt: '80ms', bandwidth: '5Mbps' },
      { source: 'far', target: 'core', rtt: '60ms', bandwidth: '8Mbps' },
    ]),
  },
  60,
);

let ext: Extender;
let url: string;
let context: BrowserContext | undefined;
let page: Page;
const profile = mkdtempSync(join(tmpdir(), 'lpm-web-chromium-'));

async function post(path: string, body: unknown): Promise<unknown> {
  const res = await request(url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  expect(res.statusCode).toBe(200);
  return res.body.json();
}

beforeAll(async () => {
  expect(existsSync(CHROMIUM), `${CHROMIUM} is missing: run "bash scripts/setup.sh" (apt package chromium)`).toBe(true);
  const store = new PodIndex({
    pods: [
      { namespace: 'shop', name: 'db', labels: { app: 'db' }, annotations: {}, nodeName: 'cloud', phase: 'Running' },
      { namespace: 'shop', name: 'cache', labels: { app: 'cache' }, annotations: {}, nodeName: 'core', phase: 'Running' },
    ],
  });
  ext = await createExtender({ config, podStore: store, source });
  url = await ext.start({ host: '127.0.0.1', port: 0 });
  expect(await ext.cache.refresh()).toBe(true);

  const pod = {
    metadata: {
      name: 'api-0',
      namespace: 'shop',
      labels: { app: 'api' },
      annotations: {
        'lpm.l2sm.io/peers': 'app=db; app=cache',
        'lpm.l2sm.io/peer-weights': `app=db: 2; app=cache: 1; ${EVIL_TEXT}`,
        'lpm.l2sm.io/max-rtt': '30ms',
      },
    },
    spec: {},
    status: { phase: 'Pending' },
  };
  // as kube-scheduler does: filter all nodes, prioritize the ones that passed
  const filtered = (await post('/filter', { Pod: pod, NodeNames: ['edge', 'core', 'cloud', 'far'] })) as { NodeNames: string[] };
  expect(filtered.NodeNames).toEqual(['edge', 'core', 'cloud']);
  const scores = (await post('/prioritize', { Pod: pod, NodeNames: filtered.NodeNames })) as Array<{ Host: string; Score: number }>;
  expect(scores.map((s) => s.Host)).toEqual(filtered.NodeNames);

  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1280, height: 1000 },
  });
  page = context.pages()[0] ?? (await context.newPage());
  await page.goto(url + '/');
  await page.waitForSelector('#rtt-map g.cell', { timeout: 20_000 });
  await page.waitForSelector('#decision-list .decision', { timeout: 20_000 });
}, 90_000);

afterAll(async () => {
  await context?.close();
  await ext?.close();
  rmSync(profile, { recursive: true, force: true });
});

const cell = (map: 'rtt' | 'bw', from: string, to: string) =>
  page.locator(`#${map}-map g.cell[data-source="${from}"][data-target="${to}"]`);

describeWithCapabilities('web page', missing, () => {
  it('serves HTML with a restrictive content security policy', async () => {
    const res = await request(url + '/');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/text\/html/);
    expect(String(res.headers['content-security-policy'])).toContain("default-src 'none'");
    expect(await res.body.text()).toContain('<title>lpm');
  });

  it('shows the measured values in both heatmaps', async () => {
    await expect(cell('rtt', 'edge', 'core').textContent()).resolves.toContain('4.00 ms');
    await expect(cell('rtt', 'core', 'cloud').textContent()).resolves.toContain('20.0 ms');
    await expect(cell('bw', 'core', 'cloud').textContent()).resolves.toContain('100 Mb/s');
    await expect(cell('bw', 'cloud', 'edge').textContent()).resolves.toContain('12.0 Mb/s');
    expect(await cell('rtt', 'edge', 'core').getAttribute('data-status')).toBe('fresh');
    // 4 × 4 cells per map, the diagonal included
    expect(await page.locator('#rtt-map g.cell').count()).toBe(16);
    expect(await page.locator('#bw-map g.cell').count()).toBe(16);
  });

  it('marks a stale value as stale and a never-measured pair as unknown', async () => {
    const stale = cell('rtt', 'edge', 'cloud');
    expect(await stale.getAttribute('data-status')).toBe('stale');
    expect(await stale.textContent()).toContain('STALE');
    expect(await stale.textContent()).toContain('42.0 ms');
    expect(await cell('rtt', 'core', 'edge').getAttribute('data-status')).toBe('unknown');
    expect(await cell('rtt', 'core', 'edge').textContent()).toContain('?');
  });

  it('shows the age of the data and a colour legend', async () => {
    const age = await page.locator('#age').textContent();
    expect(age).toMatch(/matrix refreshed \d+ s ago from the static source/);
    expect(age).toMatch(/oldest 2 min ago/);
    expect(await page.locator('#rtt-map .legend').textContent()).toContain('stale');
  });

  it('shows the decision: chosen node, scores, the links behind them and the filtered node', async () => {
    const card = page.locator('#decision-list .decision').first();
    const text = (await card.textContent()) ?? '';
    // annotation text (in a warning) is shown as text, not run as HTML
    expect(text).toContain('shop/api-0');
    expect(text).toContain(EVIL_TEXT);
    expect(await page.evaluate(() => (globalThis as unknown as { __xss?: number }).__xss)).toBeUndefined();
    expect(await page.locator('#decision-list img').count()).toBe(0);
    // cloud hosts db (weight 2), core hosts cache (weight 1): cloud wins, its links explained
    expect(text).toContain('→ cloud');
    expect(text).toContain('shop/db on cloud (weight 2)');
    expect(await card.locator('tr[data-node="cloud"] td.score').textContent()).toContain('10');
    expect(text).toMatch(/co-located, quality 1/);
    expect(text).toMatch(/rtt 20ms/);
    // edge's link to cloud is stale: explained, neutral, not used to filter
    expect(text).toMatch(/stale: measured/);
    // far is filtered, with the reason
    const far = card.locator('tr[data-node="far"]');
    expect(await far.getAttribute('class')).toBe('filtered');
    expect(await far.textContent()).toMatch(/filtered out: lpm: .*rtt/);
  });

  it('updates itself when new decisions arrive', async () => {
    const pod = { metadata: { name: 'late-pod', namespace: 'shop', annotations: { 'lpm.l2sm.io/peers': 'app=cache' } } };
    await post('/prioritize', { Pod: pod, NodeNames: ['edge', 'core', 'cloud'] });
    await page.waitForSelector('#decision-list .decision[data-pod="shop/late-pod"]', { timeout: 15_000 });
    expect(await page.locator('#decision-list .decision').first().getAttribute('data-pod')).toBe('shop/late-pod');
  });

  it('saves a screenshot', async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(existsSync(SCREENSHOT)).toBe(true);
  });
});
