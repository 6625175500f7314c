// The extender under load and at shutdown, for real: 1000 concurrent kube-scheduler calls against
// the in-process server; a sustained run against `lpm extender` as its own process with its RSS
// read from /proc/PID/status; and SIGTERM while large requests are still arriving. Behaviour only:
// every answer 200, memory flat, in-flight requests answered, new connections refused, exit 0.
// The CLI tests need `npm run build` (they skip with a message otherwise; with CI=true they fail).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extenderConfigSchema } from '../../extender/config.js';
import { extenderFilterResultSchema, hostPriorityListSchema } from '../../extender/protocol.js';
import { createExtender, type Extender } from '../../extender/extender.js';
import { built, describeWithCapabilities, missingCapabilities } from '../helpers/capability.js';

const FIXTURES = join(import.meta.dirname, '../fixtures/kube-scheduler');
const NODE_TEMPLATE = JSON.parse(readFileSync(join(FIXTURES, 'filter-request.nodelist.captured-v1.26.json'), 'utf8')).Nodes.items[0];
const POD_TEMPLATE = JSON.parse(readFileSync(join(FIXTURES, 'filter-request.nodenames.json'), 'utf8')).Pod;
const BIN = join(import.meta.dirname, '../../bin/lpm.js');
const missingBuild = await missingCapabilities([built()]);

// ---- a realistic cluster: 30 nodes fully measured, 60 placed pods in 3 apps on 2 networks ----

const NODES = Array.from({ length: 30 }, (_, i) => `node-${String(i).padStart(2, '0')}`);
const LINKS = NODES.flatMap((a, i) =>
  NODES.filter((b) => b !== a).map((b, j) => ({ source: a, target: b, rtt: `${1 + ((i * 7 + j * 3) % 40)}ms`, bandwidth: `${50 + ((i + j) % 20) * 50}Mbps` })),
);
const APPS = ['db', 'cache', 'api'];
const PODS = Array.from({ length: 60 }, (_, i) => ({
  namespace: 'shop',
  name: `${APPS[i % 3]}-${i}`,
  labels: { app: APPS[i % 3]! },
  annotations: { 'l2sm/networks': i % 2 ? 'shop-net' : 'shop-net,metrics-net' },
  nodeName: NODES[(i * 7) % NODES.length]!,
  phase: 'Running',
}));
const CONFIG = {
  kubernetes: { enabled: false },
  source: { type: 'static', links: LINKS, interval: '1h' },
  pods: PODS,
  // A burst of 1000 calls queues them all; on a loaded machine the last is read long after its
  // connection opened, and the default timeouts (10 s for headers, 30 s for a request: far past
  // kube-scheduler's own httpTimeout) would rightly cut it. These tests want every call answered.
  http: { headersTimeout: '300s', requestTimeout: '300s' },
};

function podBody(i: number) {
  return {
    ...POD_TEMPLATE,
    metadata: {
      ...POD_TEMPLATE.metadata,
      name: `web-${i}`,
      uid: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      labels: { app: 'web' },
      annotations: {
        'l2sm/networks': 'shop-net',
        'lpm.l2sm.io/peers': 'app=db; app=cache',
        'lpm.l2sm.io/peer-weights': 'app=db: 3',
        ...(i % 2 ? { 'lpm.l2sm.io/max-rtt': '30ms' } : { 'lpm.l2sm.io/min-bandwidth': '200Mbps' }),
      },
    },
  };
}
const nodeItem = (name: string) => ({ ...NODE_TEMPLATE, metadata: { ...NODE_TEMPLATE.metadata, name } });

/** A kube-scheduler call: filter or prioritize, NodeNames or NodeList mode, all 30 nodes. */
function call(i: number): { path: string; body: string; nodeList: boolean } {
  const nodeList = i % 4 >= 2;
  const args = nodeList ? { Pod: podBody(i % 64), Nodes: { items: NODES.map(nodeItem) }, NodeNames: null } : { Pod: podBody(i % 64), Nodes: null, NodeNames: NODES };
  return { path: i % 2 ? '/prioritize' : '/filter', body: JSON.stringify(args), nodeList };
}

function checkAnswer(path: string, status: number, text: string): void {
  expect(status, text.slice(0, 300)).toBe(200);
  const json = JSON.parse(text);
  if (path === '/prioritize') expect(hostPriorityListSchema.parse(json).map((h) => h.Host)).toEqual(NODES);
  else {
    const r = extenderFilterResultSchema.parse(json);
    expect(r.Error).toBe('');
    const passed = r.NodeNames ?? r.Nodes!.items.map((n: any) => n.metadata.name);
    expect(passed.length + Object.keys(r.FailedAndUnresolvableNodes).length).toBe(NODES.length);
  }
}

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const port = (probe.address() as AddressInfo).port;
  await new Promise((r) => probe.close(r));
  return port;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---- `lpm extender` as a process ----------------------------------------------------------

interface Proc {
  child: ResultPromise<{ reject: false; buffer: true }>;
  url: string;
  port: number;
  dir: string;
}
const procs: Proc[] = [];
afterAll(async () => {
  for (const p of procs) {
    if (p.child.exitCode === null) p.child.kill('SIGKILL');
    await p.child;
    rmSync(p.dir, { recursive: true, force: true });
  }
});

async function spawnExtender(extra: Record<string, unknown> = {}, nodeArgs: string[] = []): Promise<Proc> {
  const dir = mkdtempSync(join(tmpdir(), 'lpm-extender-load-'));
  const port = await freePort();
  const cfg = join(dir, 'extender.yaml');
  writeFileSync(cfg, JSON.stringify({ listen: `127.0.0.1:${port}`, ...CONFIG, ...extra })); // JSON is YAML
  const child = execa('node', [...nodeArgs, BIN, 'extender', '--config', cfg, '--log-level', 'info'], { reject: false, buffer: true });
  const p: Proc = { child, url: `http://127.0.0.1:${port}`, port, dir };
  procs.push(p);
  for (let i = 0; i < 200; i++) {
    const ready = await request(`${p.url}/readyz`).then(
      async (r) => (await r.body.text(), r.statusCode === 200),
      () => false,
    );
    if (ready) return p;
    if (child.exitCode !== null) break;
    await sleep(100);
  }
  child.kill('SIGKILL');
  throw new Error(`lpm extender did not become ready: ${(await child).stderr}`);
}

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) * 1024;
}

/** A raw HTTP/1.1 request whose body is sent in two parts, so the test decides when it completes. */
class SlowRequest {
  readonly socket: Socket;
  private data = '';
  readonly closed: Promise<string>;
  private readonly body: Buffer;
  private readonly pipelined: string;

  constructor(port: number, path: string, body: string, pipelined = '') {
    this.body = Buffer.from(body);
    this.socket = connect(port, '127.0.0.1');
    this.socket.setEncoding('utf8');
    this.socket.on('data', (d: string) => (this.data += d));
    this.closed = new Promise((resolve) => {
      this.socket.on('close', () => resolve(this.data));
      this.socket.on('error', () => undefined);
    });
    const head = `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${this.body.length}\r\n\r\n`;
    this.socket.write(head);
    this.socket.write(this.body.subarray(0, this.body.length >> 1));
    this.pipelined = pipelined;
  }

  finish(): void {
    this.socket.write(this.body.subarray(this.body.length >> 1));
    if (this.pipelined) this.socket.write(this.pipelined);
  }

  /** The responses received so far: status and body of each. */
  responses(): Array<{ status: number; body: string }> {
    const out: Array<{ status: number; body: string }> = [];
    let rest = this.data;
    for (;;) {
      const m = /^HTTP\/1\.1 (\d{3})[^\r]*\r\n([\s\S]*?)\r\n\r\n/.exec(rest);
      if (!m) break;
      const len = Number(/content-length: (\d+)/i.exec(m[2]!)?.[1] ?? 0);
      const start = m[0].length;
      out.push({ status: Number(m[1]), body: rest.slice(start, start + len) });
      rest = rest.slice(start + len);
    }
    return out;
  }
}

async function inFlight(url: string): Promise<number> {
  const text = await (await request(`${url}/metrics`)).body.text();
  return [...text.matchAll(/^lpm_extender_requests_in_flight\{verb="\w+"\} (\d+)/gm)].reduce((s, m) => s + Number(m[1]), 0);
}

async function until(what: string, cond: () => Promise<boolean> | boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

const refused = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.on('connect', () => (s.destroy(), resolve(false)));
    s.on('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });

// ---------------------------------------------------------------------------------------------

describe('1000 concurrent kube-scheduler calls (in-process server)', () => {
  let ext: Extender;
  let url: string;
  beforeAll(async () => {
    ext = await createExtender({ config: extenderConfigSchema.parse(CONFIG) });
    url = await ext.start({ host: '127.0.0.1', port: 0 });
    await ext.cache.refresh();
  });
  afterAll(() => ext.close());

  it('all 1000 answered 200 with valid bodies, nothing counted as an error, nothing left in flight', async () => {
    const bodies = Array.from({ length: 8 }, (_, i) => call(i));
    const agent = new Agent({ connections: 1000 });
    try {
      const results = await Promise.all(
        Array.from({ length: 1000 }, async (_, i) => {
          const c = bodies[i % 8]!;
          const res = await request(`${url}${c.path}`, { method: 'POST', body: c.body, headers: { 'content-type': 'application/json' }, dispatcher: agent });
          return { path: c.path, status: res.statusCode, text: await res.body.text() };
        }),
      );
      for (const r of results) checkAnswer(r.path, r.status, r.text);
    } finally {
      await agent.close();
    }
    const metrics = await ext.metrics.registry.metrics();
    expect(metrics).toContain('lpm_extender_decisions_total{verb="filter",outcome="error"} 0');
    expect(metrics).toContain('lpm_extender_decisions_total{verb="prioritize",outcome="error"} 0');
    expect(metrics).toMatch(/lpm_extender_decisions_total\{verb="filter",outcome="scored"\} 500/);
    expect(metrics).toContain('lpm_extender_requests_in_flight{verb="filter"} 0');
    expect(metrics).toContain('lpm_extender_request_duration_seconds_count{verb="prioritize"} 500');
  });
});

describeWithCapabilities('lpm extender as a process (needs npm run build)', missingBuild, () => {
  it('sustained load (bounded: 8000 calls or 20 s): no errors and flat memory', async () => {
    // A heap cap, as a container's memory limit imposes (V8 sizes its heap from the machine's
    // memory otherwise, and on a big machine lets garbage pile up to hundreds of MB before
    // collecting): retained memory then shows as growth, or kills the process.
    const p = await spawnExtender({}, ['--max-old-space-size=128']);
    const pid = p.child.pid!;
    const bodies = Array.from({ length: 64 }, (_, i) => call(i));
    const agent = new Agent({ connections: 16 });
    let sent = 0;
    let failures = 0;
    const worker = async (deadline: number, limit: number) => {
      while (sent < limit && Date.now() < deadline) {
        const c = bodies[sent++ % bodies.length]!;
        const res = await request(`${p.url}${c.path}`, { method: 'POST', body: c.body, headers: { 'content-type': 'application/json' }, dispatcher: agent }).catch(async (err: Error) => {
          const exited = await Promise.race([p.child, sleep(2000).then(() => undefined)]);
          throw new Error(`call ${sent} failed (${err.message}); extender ${exited ? `exited: ${exited.stderr.slice(-600)}` : 'still running'}`);
        });
        const text = await res.body.text();
        if (res.statusCode !== 200) failures++;
        else if (sent % 97 === 0) checkAnswer(c.path, res.statusCode, text);
      }
    };
    const run = (limit: number, seconds: number) => {
      const deadline = Date.now() + seconds * 1000;
      return Promise.all(Array.from({ length: 16 }, () => worker(deadline, limit)));
    };
    try {
      await run(1500, 8); // warm-up: JIT, heap sizing
      const samples: number[] = [];
      const sampler = setInterval(() => samples.push(rssBytes(pid)), 200);
      const measuredFrom = sent;
      await run(sent + 8000, 20);
      clearInterval(sampler);
      const measured = sent - measuredFrom;
      expect(failures).toBe(0);
      expect(measured).toBeGreaterThan(500); // even on a busy machine
      expect(samples.length).toBeGreaterThanOrEqual(6);
      const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
      const first = median(samples.slice(0, samples.length >> 1));
      const later = median(samples.slice(samples.length >> 1));
      // no growth: with the heap capped, GC noise is a few MB; retaining even a few KB per call
      // over thousands of calls is tens of MB (or an out-of-memory exit, failing the calls above)
      const MB = 1024 * 1024;
      console.info(`sustained: ${measured} calls, RSS median first half ${(first / MB).toFixed(1)} MB, later half ${(later / MB).toFixed(1)} MB`);
      expect(later, `RSS first half ${(first / MB).toFixed(0)} MB, later half ${(later / MB).toFixed(0)} MB over ${measured} calls`).toBeLessThan(
        first + 32 * MB,
      );
      const metrics = await (await request(`${p.url}/metrics`)).body.text();
      expect(metrics).toContain('lpm_extender_decisions_total{verb="filter",outcome="error"} 0');
    } finally {
      await agent.close();
      p.child.kill('SIGTERM');
      await p.child;
    }
  });

  it('SIGTERM mid-flight: /readyz 503, then new connections refused, every in-flight call answered 200, exit 0', async () => {
    const p = await spawnExtender({ shutdownTimeout: '60s', shutdownDelay: '3s' });
    // large NodeList bodies (500 Nodes, ~2 MB), half sent before the signal
    const big = (i: number) => JSON.stringify({ Pod: podBody(i), Nodes: { items: Array.from({ length: 500 }, (_, k) => nodeItem(NODES[k % 30]!)) }, NodeNames: null });
    const slow = Array.from({ length: 6 }, (_, i) => new SlowRequest(p.port, i % 2 ? '/prioritize' : '/filter', big(i)));
    await until('6 requests in flight', async () => (await inFlight(p.url)) === 6, 15_000);

    p.child.kill('SIGTERM');
    // during shutdownDelay: still listening, but not ready (a Service takes the endpoint out)
    let readyz: { status: number; json: any } | undefined;
    await until(
      '/readyz 503',
      async () => {
        const fresh = new Agent({ pipelining: 0 });
        try {
          const r = await request(`${p.url}/readyz`, { dispatcher: fresh });
          readyz = { status: r.statusCode, json: await r.body.json() };
          return r.statusCode === 503;
        } finally {
          await fresh.close();
        }
      },
      10_000,
    );
    expect(readyz!.json).toEqual({ status: 'shutting down', waiting: ['in-flight requests to drain'] });
    await until('new connections refused', () => refused(p.port), 15_000);
    expect(p.child.exitCode).toBeNull(); // still draining: six calls are half-sent

    for (const s of slow) s.finish();
    // each answered, then its connection closed by the server (Connection: close while draining)
    const answers = await Promise.all(slow.map((s) => s.closed.then(() => s.responses())));
    answers.forEach((r, i) => {
      expect(r, `request ${i}`).toHaveLength(1);
      expect(r[0]!.status).toBe(200);
      const json = JSON.parse(r[0]!.body);
      if (i % 2) expect(hostPriorityListSchema.parse(json)).toHaveLength(500);
      else expect(extenderFilterResultSchema.parse(json).Error).toBe('');
    });
    const done = await Promise.race([p.child, sleep(15_000).then(() => undefined)]);
    expect(done, 'exited within 15 s of the last answer').toBeDefined();
    expect(done!.exitCode).toBe(0);
    expect(done!.stderr).toMatch(/shutting down: draining in-flight requests/);
    expect(done!.stderr).toMatch(/"forced":false[^\n]*"msg":"stopped"/);
  });

  it('SIGTERM with a request that never completes: cut after shutdownTimeout, exit 0', async () => {
    const p = await spawnExtender({ shutdownTimeout: '1s' });
    const stuck = new SlowRequest(p.port, '/filter', call(0).body);
    await until('1 request in flight', async () => (await inFlight(p.url)) === 1, 15_000);
    const t0 = Date.now();
    p.child.kill('SIGTERM');
    const done = await Promise.race([p.child, sleep(15_000).then(() => undefined)]);
    expect(done, 'exited within 15 s').toBeDefined();
    expect(done!.exitCode).toBe(0);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    expect(await stuck.closed).toBe(''); // cut without an answer
    expect(done!.stderr).toMatch(/requests still open after the timeout/);
    expect(done!.stderr).toMatch(/"forced":true/);
  });
});
