// Property tests of the extender's two verbs against the REAL server (fastify on 127.0.0.1, an
// ephemeral port, requests with undici): whatever arrives, the process keeps running and never
// answers 5xx; a well-formed ExtenderArgs gets 200 with exactly one score 0..10 per input node and
// a filter answer that names only input nodes; a malformed one gets 400 with a message that names
// the offending field. Runs are bounded so the file stays well under a minute.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import fc from 'fast-check';
import { pino } from 'pino';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extenderConfigSchema, type ExtenderConfigInput } from '../../extender/config.js';
import { extenderFilterResultSchema, hostPriorityListSchema, MAX_ANNOTATIONS_BYTES } from '../../extender/protocol.js';
import { LinkMatrix } from '../../src/linkMatrix.js';
import type { Decision } from '../../extender/decisionLog.js';
import { createExtender, type Extender } from '../../extender/extender.js';
import { MemoryPodStore } from '../../extender/pods/memoryPodStore.js';
import type { PodInfo } from '../../extender/pods/podStore.js';
import { StaticSource } from '../../extender/sources/static.js';

const FIXTURES = join(import.meta.dirname, '../fixtures/kube-scheduler');
const fixture = (f: string): Record<string, any> => JSON.parse(readFileSync(join(FIXTURES, f), 'utf8'));

const NODES = Array.from({ length: 20 }, (_, i) => `node-${i}`);
const SWARM = 3000; // pods labelled app=swarm: a pod selecting them has thousands of peers

// ---- the server under test ----------------------------------------------------------------

const logLines: string[] = [];
const running: Extender[] = [];
const agent = new Agent({ connections: 8 });
afterAll(async () => {
  await Promise.all(running.map((e) => e.close()));
  await agent.close();
});

async function startExtender(config: Partial<ExtenderConfigInput> = {}): Promise<{ ext: Extender; url: string }> {
  const pods: PodInfo[] = [];
  NODES.slice(0, 10).forEach((node, i) =>
    pods.push({ namespace: 'default', name: `db-${i}`, labels: { app: 'db' }, annotations: { 'l2sm/networks': 'net-a' }, nodeName: node, phase: 'Running' }),
  );
  for (let i = 0; i < SWARM; i++)
    pods.push({ namespace: 'default', name: `swarm-${i}`, labels: { app: 'swarm' }, annotations: {}, nodeName: `swarm-node-${i % 200}`, phase: 'Running' });
  const now = Date.now() / 1000;
  const m = new LinkMatrix();
  for (const a of NODES)
    for (const b of NODES)
      if (a !== b && (a.length + b.length) % 3 !== 0) {
        m.set(a, b, 'rtt_seconds', { value: 0.001 * ((a.charCodeAt(5) + b.charCodeAt(5)) % 40), timestamp: now - (b.endsWith('7') ? 3600 : 0) });
        m.set(a, b, 'bandwidth_bytes_per_second', { value: 1e6 * ((a.charCodeAt(5) * b.charCodeAt(5)) % 200), timestamp: now });
      }
  const logger = pino(
    { level: 'warn' },
    new Writable({
      write(chunk, _enc, cb) {
        logLines.push(...String(chunk).split('\n').filter(Boolean));
        if (logLines.length > 5000) logLines.splice(0, logLines.length - 1000);
        cb();
      },
    }),
  );
  const ext = await createExtender({
    config: extenderConfigSchema.parse({ source: { type: 'static', links: [] }, kubernetes: { enabled: false }, ...config }),
    podStore: new MemoryPodStore(pods),
    source: new StaticSource({ matrix: m }, 3600),
    logger,
  });
  running.push(ext);
  const url = await ext.start({ host: '127.0.0.1', port: 0 });
  await ext.cache.refresh();
  return { ext, url };
}

interface Answer {
  status: number;
  json: any;
  text: string;
}

async function post(url: string, path: string, body: string | Buffer, contentType: string | null = 'application/json'): Promise<Answer> {
  const res = await request(`${url}${path}`, {
    method: 'POST',
    body,
    headers: contentType === null ? {} : { 'content-type': contentType },
    dispatcher: agent,
  });
  const text = await res.body.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.statusCode, json, text };
}

const get = async (url: string, path: string) => {
  const res = await request(`${url}${path}`, { dispatcher: agent });
  return { status: res.statusCode, json: (await res.body.json()) as any };
};

// ---- generators -----------------------------------------------------------------------------

const garbage = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom('5 parsecs', '', ' ', '-5ms', '1e400', 'NaN', 'Infinity', '9'.repeat(400) + 's', '10ms', '0', '5', '100Mbps', '1Gbit/s', '12.5MB/s', 'ms', '5ms5', '[', '{', 'null', '[null]', '{"a": [1]}', 'x=;;!', '*:app=db'),
);
const annotationsArb = fc.record(
  {
    'lpm.l2sm.io/peers': fc.oneof(fc.constantFrom('app=db', 'app=swarm', 'app in (db,web)', '*:app=db', 'app=db; app=swarm', '[{"selector":"app=db"}]', '[1,null,{"selector":5}]'), garbage),
    'lpm.l2sm.io/peer-weights': fc.oneof(fc.constantFrom('app=db: 5', 'app=db: 12MB/s', '{"app=db": 3}', '{"app=db": -1, "x": "5 parsecs"}', '{"app=db": null}'), garbage),
    'lpm.l2sm.io/max-rtt': garbage,
    'lpm.l2sm.io/min-bandwidth': garbage,
    'l2sm/networks': fc.oneof(fc.constantFrom('net-a', 'net-a,net-b', '[{"name":"net-a"}]', '[{"name": 5}]', '{}', 'null', '[null]'), garbage),
    'example.com/other': garbage,
  },
  { requiredKeys: [] },
);
const dnsLabel = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,14}[a-z0-9])?$/);
const safeKey = fc.stringMatching(/^[a-zA-Z][a-zA-Z0-9]{0,8}$/);
// junk the extender must carry along untouched (Node fields, unknown Pod fields)
const junk = fc.dictionary(safeKey, fc.jsonValue({ maxDepth: 3 }), { maxKeys: 3 });
// unknown top-level fields: not a spelling of Pod, Nodes or NodeNames
const topJunk = fc.dictionary(safeKey.filter((k) => !/^(pod|nodes|nodenames)$/i.test(k)), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 3 });
const nodeName = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...NODES) },
  { weight: 1, arbitrary: fc.stringMatching(/^[a-z0-9][-a-z0-9.]{0,30}$/) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 30 }) },
);
/** One of the spellings Go's case-insensitive decoder accepts. */
const spelling = (canonical: string) => fc.constantFrom(canonical, canonical.toLowerCase(), canonical.toUpperCase());

const podArb = fc.record({
  metadata: fc.record(
    {
      name: dnsLabel,
      namespace: fc.oneof(dnsLabel, fc.constant(null), fc.constant('')),
      uid: fc.oneof(fc.uuid(), fc.constant(null)),
      labels: fc.oneof(fc.dictionary(dnsLabel, dnsLabel, { maxKeys: 3 }), fc.constant(null)),
      annotations: fc.oneof(annotationsArb, fc.constant(null)),
      extra: junk,
    },
    { requiredKeys: ['name'] },
  ),
  spec: fc.oneof(fc.constant(null), fc.record({ nodeName: fc.oneof(fc.constant(''), fc.constant(null), dnsLabel), containers: fc.jsonValue({ maxDepth: 2 }) }, { requiredKeys: [] })),
  status: fc.oneof(fc.constant(null), fc.record({ phase: fc.constantFrom('Pending', 'Running', '', null) }, { requiredKeys: [] })),
});

interface Args {
  body: Record<string, unknown>;
  mode: 'nodeNames' | 'nodeList';
  names: string[];
  items: unknown[];
}

const argsArb: fc.Arbitrary<Args> = fc
  .record({
    pod: podArb,
    mode: fc.constantFrom('nodeNames' as const, 'nodeList' as const),
    names: fc.array(nodeName, { maxLength: 25 }),
    itemJunk: fc.array(junk, { maxLength: 25 }),
    keys: fc.record({ Pod: spelling('Pod'), Nodes: spelling('Nodes'), NodeNames: spelling('NodeNames') }),
    otherNull: fc.constantFrom('null', 'absent'),
    extra: topJunk,
  })
  .map(({ pod, mode, names, itemJunk, keys, otherNull, extra }) => {
    const items = names.map((name, i) => ({ ...(itemJunk[i] ?? {}), metadata: { ...(itemJunk[i] ?? {}), name } }));
    const body: Record<string, unknown> = { ...extra, [keys.Pod]: pod };
    if (mode === 'nodeNames') {
      body[keys.NodeNames] = names;
      if (otherNull === 'null') body[keys.Nodes] = null;
    } else {
      body[keys.Nodes] = { kind: 'NodeList', apiVersion: 'v1', metadata: { resourceVersion: '1' }, items };
      if (otherNull === 'null') body[keys.NodeNames] = null;
    }
    return { body, mode, names, items };
  });

/** fast-check may build objects with an own "__proto__" key; the server refuses those on purpose. */
const noProtoKey = (text: string) => !/"__proto__"\s*:/.test(text);

// ---- what a good answer is ------------------------------------------------------------------

function checkPrioritize(a: Answer, names: string[]): void {
  expect(a.status, a.text).toBe(200);
  const list = hostPriorityListSchema.parse(a.json); // integers 0..10, Host non-empty
  expect(list.map((h) => h.Host)).toEqual(names);
}

function checkFilter(a: Answer, args: Args): void {
  expect(a.status, a.text).toBe(200);
  const r = extenderFilterResultSchema.parse(a.json);
  expect(r.Error).toBe('');
  expect(r.FailedNodes).toEqual({});
  const input = new Set(args.names);
  let passed: string[];
  if (args.mode === 'nodeNames') {
    expect(r.Nodes).toBeNull();
    passed = r.NodeNames!;
    // in input order, duplicates kept: the input filtered
    expect(passed).toEqual(args.names.filter((n) => passed.includes(n)));
  } else {
    expect(r.NodeNames).toBeNull();
    // the original Node objects of the passing nodes, untouched
    passed = r.Nodes!.items.map((n: any) => n.metadata.name);
    const sent = JSON.parse(JSON.stringify(args.items)) as any[]; // as the server saw them (-0 is 0)
    expect(r.Nodes!.items).toEqual(sent.filter((n) => passed.includes(n.metadata.name)));
  }
  for (const n of [...passed, ...Object.keys(r.FailedAndUnresolvableNodes)]) expect(input.has(n), n).toBe(true);
  // every input node is either passed or failed with a reason
  for (const n of input) expect(passed.includes(n) || typeof r.FailedAndUnresolvableNodes[n] === 'string', n).toBe(true);
}

// ---- malformed requests: one mutation of a well-formed body, and the field it must name ------

const notObject = fc.oneof(fc.integer(), fc.string({ maxLength: 5 }), fc.boolean(), fc.array(fc.integer(), { maxLength: 3 }));
const notString = fc.oneof(fc.integer(), fc.boolean(), fc.array(fc.string({ maxLength: 3 }), { maxLength: 2 }), fc.dictionary(safeKey, fc.integer(), { maxKeys: 2 }));
const notArray = fc.oneof(fc.integer(), fc.string({ maxLength: 5 }), fc.boolean(), fc.dictionary(safeKey, fc.integer(), { maxKeys: 2 }));

type Mutation = { mode: 'nodeNames' | 'nodeList'; field: RegExp; apply: (b: any) => void };
const meta = (b: any) => b.Pod.metadata;

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.oneof(notObject, fc.constant(null)).map((v) => ({ mode: 'nodeNames' as const, field: /^Pod: /, apply: (b: any) => void (b.Pod = v) })),
  fc.constant({ mode: 'nodeNames' as const, field: /^Pod: Required/, apply: (b: any) => void delete b.Pod }),
  fc.oneof(notObject, fc.constant(null)).map((v) => ({ mode: 'nodeList' as const, field: /^Pod\.metadata: /, apply: (b: any) => void (b.Pod.metadata = v) })),
  fc
    .oneof(notString, fc.constant(null), fc.constant(''), fc.constant('n'.repeat(254)))
    .map((v) => ({ mode: 'nodeNames' as const, field: /^Pod\.metadata\.name: /, apply: (b: any) => void (meta(b).name = v) })),
  fc.constant({ mode: 'nodeList' as const, field: /^Pod\.metadata\.name: Required/, apply: (b: any) => void delete meta(b).name }),
  fc
    .oneof(notString, fc.constant('n'.repeat(64)))
    .map((v) => ({ mode: 'nodeNames' as const, field: /^Pod\.metadata\.namespace: /, apply: (b: any) => void (meta(b).namespace = v) })),
  fc.tuple(fc.constantFrom('labels', 'annotations'), notObject).map(([k, v]) => ({
    mode: 'nodeNames' as const,
    field: new RegExp(`^Pod\\.metadata\\.${k}: `),
    apply: (b: any) => void (meta(b)[k] = v),
  })),
  fc.tuple(fc.constantFrom('labels', 'annotations'), notString).map(([k, v]) => ({
    mode: 'nodeList' as const,
    field: new RegExp(`^Pod\\.metadata\\.${k}\\.lpm\\.l2sm\\.io/max-rtt: Expected string`),
    apply: (b: any) => void (meta(b)[k] = { 'lpm.l2sm.io/max-rtt': v }),
  })),
  fc.constant({
    mode: 'nodeNames' as const,
    field: /^Pod\.metadata\.annotations: \d+ bytes, over Kubernetes' limit/,
    apply: (b: any) => void (meta(b).annotations = { a: 'x'.repeat(MAX_ANNOTATIONS_BYTES) }),
  }),
  fc.oneof(notObject).map((v) => ({ mode: 'nodeNames' as const, field: /^Pod\.spec: /, apply: (b: any) => void (b.Pod.spec = v) })),
  notString.map((v) => ({ mode: 'nodeList' as const, field: /^Pod\.spec\.nodeName: /, apply: (b: any) => void (b.Pod.spec = { nodeName: v }) })),
  notString.map((v) => ({ mode: 'nodeNames' as const, field: /^Pod\.status\.phase: /, apply: (b: any) => void (b.Pod.status = { phase: v }) })),
  notArray.map((v) => ({ mode: 'nodeNames' as const, field: /^NodeNames: /, apply: (b: any) => void (b.NodeNames = v) })),
  fc.tuple(fc.nat(), fc.oneof(notString, fc.constant(null), fc.constant(''))).map(([i, v]) => ({
    mode: 'nodeNames' as const,
    field: /^NodeNames\[\d+\]: /,
    apply: (b: any) => void (b.NodeNames[i % b.NodeNames.length] = v),
  })),
  fc.constant({ mode: 'nodeNames' as const, field: /^NodeNames: one of NodeNames .* or Nodes .* is required/, apply: (b: any) => void (b.NodeNames = null) }),
  notObject.map((v) => ({ mode: 'nodeList' as const, field: /^Nodes: must be a NodeList/, apply: (b: any) => void (b.Nodes = v) })),
  notArray.map((v) => ({ mode: 'nodeList' as const, field: /^Nodes\.items: must be a list/, apply: (b: any) => void (b.Nodes.items = v) })),
  fc.tuple(fc.nat(), fc.oneof(notString, fc.constant(null), fc.constant(''))).map(([i, v]) => ({
    mode: 'nodeList' as const,
    field: /^Nodes\.items\[\d+\]\.metadata\.name: every Node needs a metadata\.name/,
    apply: (b: any) => void (b.Nodes.items[i % b.Nodes.items.length].metadata.name = v),
  })),
  fc.tuple(fc.nat(), fc.oneof(notObject, fc.constant(null))).map(([i, v]) => ({
    mode: 'nodeList' as const,
    field: /^Nodes\.items\[\d+\]\.metadata\.name: /,
    apply: (b: any) => void (b.Nodes.items[i % b.Nodes.items.length] = v),
  })),
);

/** A canonical, well-formed body of the given mode with at least one node, to mutate. */
function baseBody(mode: 'nodeNames' | 'nodeList', names: string[]): any {
  const pod = { metadata: { name: 'victim', namespace: 'default', labels: { app: 'web' }, annotations: { 'lpm.l2sm.io/peers': 'app=db' } }, spec: {}, status: {} };
  return mode === 'nodeNames'
    ? { Pod: pod, Nodes: null, NodeNames: names }
    : { Pod: pod, NodeNames: null, Nodes: { items: names.map((name) => ({ metadata: { name }, status: {} })) } };
}

// ---------------------------------------------------------------------------------------------

describe('extender under bad input (fast-check against the real server)', () => {
  let url: string;
  let ext: Extender;
  beforeAll(async () => {
    ({ url, ext } = await startExtender({ staleness: { rttInterval: '10s' } }));
  });

  it('well-formed ExtenderArgs (any casing, nulls, junk fields, garbage annotations, unknown nodes): 200 and a valid answer', async () => {
    await fc.assert(
      fc.asyncProperty(argsArb, async (args) => {
        const text = JSON.stringify(args.body);
        fc.pre(noProtoKey(text));
        checkPrioritize(await post(url, '/prioritize', text), args.names);
        checkFilter(await post(url, '/filter', text), args);
      }),
      { numRuns: 250 },
    );
    expect((await get(url, '/healthz')).status).toBe(200);
  });

  it('malformed ExtenderArgs: 400 with a message naming the field, never 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(mutationArb, fc.array(fc.constantFrom(...NODES), { minLength: 1, maxLength: 5 }), fc.constantFrom('/filter', '/prioritize'), async (m, names, path) => {
        const body = baseBody(m.mode, names);
        m.apply(body);
        const a = await post(url, path, JSON.stringify(body));
        expect(a.status, a.text).toBe(400);
        expect(a.json.Error, a.text).toMatch(m.field);
        if (path === '/filter') expect(extenderFilterResultSchema.parse(a.json).NodeNames).toBeNull();
      }),
      { numRuns: 300 },
    );
  });

  it('a random JSON value anywhere in a good body: 200 or 400 with a named field, never 5xx', async () => {
    // replaces one subtree (chosen by a path of key/index picks) with an arbitrary JSON value
    const replace = (root: any, picks: number[], value: unknown): any => {
      if (picks.length === 0 || root === null || typeof root !== 'object') return value;
      const keys = Object.keys(root);
      if (keys.length === 0) return value;
      const k = keys[picks[0]! % keys.length]!;
      root[k] = replace(root[k], picks.slice(1), value);
      return root;
    };
    await fc.assert(
      fc.asyncProperty(argsArb, fc.array(fc.nat(), { maxLength: 5 }), fc.jsonValue({ maxDepth: 4 }), fc.constantFrom('/filter', '/prioritize'), async (args, picks, value, path) => {
        const body = replace(structuredClone(args.body), picks, value);
        const text = JSON.stringify(body);
        fc.pre(text !== undefined && noProtoKey(text));
        const a = await post(url, path, text);
        expect([200, 400], a.text).toContain(a.status);
        if (a.status === 400) expect(a.json.Error).toMatch(/^(body|Pod|Nodes|NodeNames)\b.*: \S/s);
      }),
      { numRuns: 250 },
    );
  });

  it('garbage bytes with any content type: a 4xx with a message, never 5xx', async () => {
    const contentType = fc.constantFrom('application/json', 'text/plain', 'application/json; charset=latin1', 'application/octet-stream', null, 'multipart/form-data; boundary=x', ';;;', '');
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), contentType, fc.constantFrom('/filter', '/prioritize'), async (bytes, ct, path) => {
        const a = await post(url, path, Buffer.from(bytes), ct);
        expect(a.status, a.text).toBeGreaterThanOrEqual(400);
        expect(a.status, a.text).toBeLessThan(500);
        expect(a.json.Error, a.text).toMatch(/^(body|content-type|Pod|Nodes|NodeNames)\b.*: \S/s);
      }),
      { numRuns: 200 },
    );
  });

  it('truncated JSON: 400 "body: invalid JSON" with the position', async () => {
    await fc.assert(
      fc.asyncProperty(argsArb, fc.double({ min: 0, max: 1, noNaN: true }), async (args, at) => {
        const text = JSON.stringify(args.body);
        const cut = text.slice(0, Math.min(text.length - 1, Math.floor(at * text.length)));
        const a = await post(url, '/prioritize', cut);
        expect(a.status).toBe(400);
        expect(a.json.Error).toMatch(/^body: (invalid JSON: .*(position|end of JSON|Unexpected)|empty)/);
      }),
      { numRuns: 60 },
    );
  });

  it('"5 parsecs" as max-rtt: ignored with a logged warning, explained in the decision, not a crash', async () => {
    const body = baseBody('nodeNames', ['node-1', 'node-2', 'node-3']);
    body.Pod.metadata.name = 'parsecs';
    body.Pod.metadata.annotations['lpm.l2sm.io/max-rtt'] = '5 parsecs';
    const before = logLines.length;
    const f = await post(url, '/filter', JSON.stringify(body));
    expect(f.status).toBe(200);
    expect(f.json.NodeNames).toEqual(['node-1', 'node-2', 'node-3']); // no limit: nothing filtered
    const [d] = (await get(url, '/api/v1/decisions?pod=default/parsecs&verb=filter')).json.decisions as Decision[];
    expect(d!.limits).toBe('none');
    expect(d!.warnings.join('\n')).toMatch(/lpm\.l2sm\.io\/max-rtt ignored: "5 parsecs" is not a duration/);
    const logged = logLines.slice(before).map((l) => JSON.parse(l));
    expect(logged).toContainEqual(
      expect.objectContaining({ level: 40, msg: 'pod annotations ignored', pod: 'default/parsecs', warnings: [expect.stringMatching(/max-rtt ignored: "5 parsecs"/)] }),
    );
    const metrics = await (await request(`${url}/metrics`, { dispatcher: agent })).body.text();
    expect(metrics).toMatch(/^lpm_extender_annotation_warnings_total\{verb="filter"\} [1-9]/m);
  });

  it('garbage limits never filter and always leave a warning; readable ones are applied', async () => {
    await fc.assert(
      fc.asyncProperty(garbage, fc.constantFrom('lpm.l2sm.io/max-rtt', 'lpm.l2sm.io/min-bandwidth'), async (value, key) => {
        const body = baseBody('nodeNames', NODES);
        body.Pod.metadata.name = 'limits';
        body.Pod.metadata.annotations[key] = value;
        const f = await post(url, '/filter', JSON.stringify(body));
        expect(f.status).toBe(200);
        const [d] = (await get(url, '/api/v1/decisions?pod=default/limits&verb=filter&limit=1')).json.decisions as Decision[];
        if (d!.limits === 'none') {
          expect(f.json.NodeNames).toEqual(NODES);
          expect(d!.warnings.join('\n')).toContain(`${key} ignored`);
        }
      }),
      { numRuns: 80 },
    );
  });

  it('a pod with thousands of peers: 200, one score per node, the decision lists a bounded sample', async () => {
    const names = [...NODES, ...Array.from({ length: 200 }, (_, i) => `swarm-node-${i}`)];
    const body = baseBody('nodeNames', names);
    body.Pod.metadata.name = 'crowd';
    body.Pod.metadata.annotations = { 'lpm.l2sm.io/peers': 'app=swarm; app=db', 'lpm.l2sm.io/max-rtt': '30ms' };
    checkPrioritize(await post(url, '/prioritize', JSON.stringify(body)), names);
    const f = await post(url, '/filter', JSON.stringify(body));
    checkFilter(f, { body, mode: 'nodeNames', names, items: [] });
    const [d] = (await get(url, '/api/v1/decisions?pod=default/crowd&verb=filter')).json.decisions as Decision[];
    expect(d!.peers!.length).toBe(200); // of 3010
    expect(d!.outcome).toBe('scored');
    // 210 peer nodes: each node's explanation is clipped, or every kept decision would be ~200 KB
    for (const n of d!.nodes!) expect(n.links!.length).toBeLessThanOrEqual(13);
  });

  it('nesting: a Node too deep to echo is a 400 naming it; deep junk elsewhere is ignored', async () => {
    const deep = (n: number) => '['.repeat(n) + ']'.repeat(n);
    const pod = JSON.stringify(baseBody('nodeNames', ['x']).Pod);
    const f = await post(url, '/filter', `{"Pod":${pod},"Nodes":{"items":[{"metadata":{"name":"node-1"}},{"metadata":{"name":"deep-1"},"x":${deep(100_000)}}]}}`);
    expect(f.status).toBe(400);
    expect(f.json.Error).toMatch(/^Nodes\.items: node "deep-1": cannot be echoed back \(.*nested too deeply/);
    // prioritize does not echo nodes: fine; deep unknown Pod fields are never read
    const p = await post(url, '/prioritize', `{"Pod":{"metadata":{"name":"p"},"spec":{"x":${deep(100_000)}}},"Nodes":{"items":[{"metadata":{"name":"deep-1"},"x":${deep(100_000)}}]}}`);
    expect(p.status).toBe(200);
    expect(p.json).toEqual([{ Host: 'deep-1', Score: 0 }]);
    const top = await post(url, '/filter', deep(100_000));
    expect(top.status).toBe(400);
    expect(top.json.Error).toMatch(/^body: must be a JSON object/);
  });

  it('very long strings: over-long names and annotations are 400, a long garbage limit is clipped in the decision', async () => {
    const body = baseBody('nodeNames', ['node-1', 'n'.repeat(100_000)]);
    body.Pod.metadata.name = 'longstrings';
    body.Pod.metadata.annotations['lpm.l2sm.io/max-rtt'] = 'x'.repeat(200_000);
    const p = await post(url, '/prioritize', JSON.stringify(body));
    checkPrioritize(p, ['node-1', 'n'.repeat(100_000)]);
    const [d] = (await get(url, '/api/v1/decisions?pod=default/longstrings&limit=1')).json.decisions as Decision[];
    const w = d!.warnings.find((x) => x.includes('max-rtt ignored'))!;
    expect(w.length).toBeLessThan(600);
    expect(w).toMatch(/more characters\)$/);
    body.Pod.metadata.name = 'p'.repeat(10_000);
    const long = await post(url, '/filter', JSON.stringify(body));
    expect(long.status).toBe(400);
    expect(long.json.Error).toMatch(/^Pod\.metadata\.name: String must contain at most 253/);
  });

  it('a peers annotation with 100k bad alternatives: 200, and the decision keeps a bounded list of warnings', async () => {
    const body = baseBody('nodeNames', ['node-1', 'node-2']);
    body.Pod.metadata.name = 'manywarnings';
    body.Pod.metadata.annotations['lpm.l2sm.io/peers'] = Array.from({ length: 100_000 }, () => '!').join(';');
    const p = await post(url, '/prioritize', JSON.stringify(body));
    expect(p.status).toBe(200);
    const [d] = (await get(url, '/api/v1/decisions?pod=default/manywarnings&limit=1')).json.decisions as Decision[];
    expect(d!.warnings.length).toBeLessThanOrEqual(22);
    expect(d!.warnings.join('\n')).toMatch(/\.\.\. and \d+ more warnings/);
  });

  it('content types: none, text/plain, a charset are read as JSON; a broken one is a 415 naming content-type', async () => {
    const text = JSON.stringify(baseBody('nodeNames', ['node-1', 'node-2']));
    for (const ct of [null, 'text/plain', 'application/json; charset=utf-8', 'application/x-www-form-urlencoded'])
      expect((await post(url, '/prioritize', text, ct)).status, String(ct)).toBe(200);
    const bad = await post(url, '/prioritize', text, ';;;');
    expect(bad.status).toBe(415);
    expect(bad.json.Error).toMatch(/^content-type: /);
    const proto = await post(url, '/prioritize', text.replace('{', '{"__proto__": {"polluted": 1}, '));
    expect(proto.status).toBe(400);
    expect(proto.json.Error).toBe('body: the key "__proto__" is not allowed');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('after all of the above: still serving, every error counted, nothing answered 5xx', async () => {
    expect((await get(url, '/healthz')).status).toBe(200);
    const metrics = await (await request(`${url}/metrics`, { dispatcher: agent })).body.text();
    expect(metrics).toMatch(/lpm_extender_decisions_total\{verb="filter",outcome="error"\} [1-9]/);
    expect(metrics).toMatch(/lpm_extender_requests_in_flight\{verb="filter"\} 0/);
    expect(ext.draining).toBe(false);
  });
});

describe('body limit', () => {
  // A realistic full Node: the captured kube-scheduler one (managedFields included) plus the 50
  // images a kubelet reports (nodeStatusMaxImages): ~14 KB.
  function fullNode(name: string, template: any): unknown {
    const images = Array.from({ length: 50 }, (_, i) => {
      const repo = `registry.example.com/team-${i % 7}/service-image-${i}`;
      return { names: [`${repo}@sha256:${(i * 7919).toString(16).padStart(64, 'a')}`, `${repo}:v1.${i}.0`], sizeBytes: 123_456_789 + i };
    });
    return { ...template, metadata: { ...template.metadata, name }, status: { ...template.status, images } };
  }

  // (test/integration/extender-http.test.ts sends a real 5000-node body; here the limit's size is
  // checked by arithmetic, and its behaviour with a small limit, to keep this file fast)
  it('the default limit fits 5000 full Node objects; past the limit a 413 that says so', async () => {
    const template = fixture('filter-request.nodelist.captured-v1.26.json').Nodes.items[0];
    const perNode = JSON.stringify(fullNode('node-00000', template)).length;
    expect(perNode).toBeGreaterThan(12_000);
    const defaults = extenderConfigSchema.parse({ source: { type: 'static', links: [] } });
    expect(defaults.bodyLimit).toBeGreaterThan(5000 * perNode * 1.5);

    // a server with a small limit: just under is served, just over is a clear 413
    const { url } = await startExtender({ bodyLimit: 200 * perNode });
    const body = (n: number) =>
      JSON.stringify({ Pod: baseBody('nodeList', []).Pod, Nodes: { items: Array.from({ length: n }, (_, i) => fullNode(`node-${i}`, template)) } });
    const ok = await post(url, '/filter', body(190));
    expect(ok.status).toBe(200);
    expect(ok.json.Nodes.items).toHaveLength(190);
    const over = await post(url, '/filter', body(400));
    expect(over.status).toBe(413);
    expect(over.json.Error).toBe(`body: larger than bodyLimit (${200 * perNode} bytes; raise bodyLimit in the config)`);
    expect((await get(url, '/healthz')).status).toBe(200);
  });
});
