// Property tests of the extender's two verbs against the REAL server (fastify on 127.0.0.1, an
// ephemeral port, requests with undici): whatever arrives, the process keeps running and never
// answers 5xx; a well-formed ExtenderArgs gets 200 with exactly one score 0..10 per input node and
// a filter answer that names only input nodes; a malformed one gets 400 with a message that names
// the offending field. Runs are bounded so the file stays well under a minute.
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import { pino } from 'pino';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extenderConfigSchema, type ExtenderConfigInput } from '../../extender/config.js';
import { extenderFilterResultSchema, hostPriorityListSchema, MAX_ANNOTATIONS_BYTES } from '../../extender/protocol.js';
import { LinkMatrix } from '../../src/linkMatrix.js';
import type { Decision } from '../../extender/decisionLog.js';
import { createExtender, type Extender } from '../../extender/extender.js';
import { PodIndex } from '../../extender/pods/podIndex.js';
import type { PodInfo } from '../../extender/pods/podStore.js';
import { StaticSource } from '../../extender/sources/static.js';
import { readAnswer, type HttpAnswer } from '../helpers/http.js';
import { FakeKubeApi } from '../helpers/fakeKubeApi.js';
import { PodCache } from '../../extender/pods/podCache.js';
import { ANNOTATION_CAPS, compilePeerAnnotations } from '../../extender/peers/peerAnnotations.js';
import { buildCluster, buildMatrix } from '../../bench/cluster.js';

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
    podStore: new PodIndex({ pods }),
    source: new StaticSource({ matrix: m }, 3600),
    logger,
  });
  running.push(ext);
  const url = await ext.start({ host: '127.0.0.1', port: 0 });
  await ext.cache.refresh();
  return { ext, url };
}

async function post(url: string, path: string, body: string | Buffer, contentType: string | null = 'application/json'): Promise<HttpAnswer> {
  const res = await request(`${url}${path}`, {
    method: 'POST',
    body,
    headers: contentType === null ? {} : { 'content-type': contentType },
    dispatcher: agent,
  });
  return readAnswer(res);
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
// node names are Kubernetes names (anything else is a 400: see the mutations below)
const nodeName = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...NODES) },
  { weight: 1, arbitrary: fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,14}[a-z0-9])?(\.[a-z0-9]{1,8})?$/) },
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

function checkPrioritize(a: HttpAnswer, names: string[]): void {
  expect(a.status, a.text).toBe(200);
  const list = hostPriorityListSchema.parse(a.json); // integers 0..10, Host non-empty
  expect(list.map((h) => h.Host)).toEqual(names);
}

function checkFilter(a: HttpAnswer, args: Args): void {
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
  fc.tuple(fc.nat(), fc.oneof(notString, fc.constant(null), fc.constant(''), fc.constantFrom('Node-A', 'a_b', 'n'.repeat(254), 'a/b', '-a', 'a..b'))).map(([i, v]) => ({
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
    const longNode = await post(url, '/prioritize', JSON.stringify(body));
    expect(longNode.status).toBe(400);
    expect(longNode.json.Error).toMatch(/^NodeNames\[1\]: "n{60}\.\.\." is not a Kubernetes name/);
    body.NodeNames = ['node-1', 'n'.repeat(253)];
    const p = await post(url, '/prioritize', JSON.stringify(body));
    checkPrioritize(p, ['node-1', 'n'.repeat(253)]);
    const [d] = (await get(url, '/api/v1/decisions?pod=default/longstrings&limit=1')).json.decisions as Decision[];
    const w = d!.warnings.find((x) => x.includes('max-rtt ignored'))!;
    expect(w.length).toBeLessThan(600);
    expect(w).toMatch(/more characters\)$/);
    body.Pod.metadata.name = 'p'.repeat(10_000);
    const long = await post(url, '/filter', JSON.stringify(body));
    expect(long.status).toBe(400);
    expect(long.json.Error).toMatch(/^Pod\.metadata\.name: String must contain at most 253/);
  });

  it('a peers annotation with 100k bad alternatives: 200, ignored at the byte cap; 32 bad ones: a bounded list of warnings', async () => {
    const body = baseBody('nodeNames', ['node-1', 'node-2']);
    body.Pod.metadata.name = 'manywarnings';
    body.Pod.metadata.annotations['lpm.l2sm.io/peers'] = Array.from({ length: 100_000 }, () => '!').join(';');
    const p = await post(url, '/prioritize', JSON.stringify(body));
    expect(p.status).toBe(200);
    let [d] = (await get(url, '/api/v1/decisions?pod=default/manywarnings&limit=1')).json.decisions as Decision[];
    expect(d!.warnings[0]).toMatch(/^lpm\.l2sm\.io\/peers ignored: over \d+ bytes, over the cap of 4096/);
    body.Pod.metadata.annotations['lpm.l2sm.io/peers'] = Array.from({ length: 32 }, () => '!').join(';');
    expect((await post(url, '/prioritize', JSON.stringify(body))).status).toBe(200);
    [d] = (await get(url, '/api/v1/decisions?pod=default/manywarnings&limit=1')).json.decisions as Decision[];
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

// ---- untrusted annotations and callers (docs/security.md): attacks 1-7, then an adversarial run ----

/** The attack annotation: 20 000 alternatives "*:!kN", 186 KB (the API server allows 256 KiB). */
const ATTACK_PEERS = Array.from({ length: 20_000 }, (_, i) => `*:!k${i}`).join(';');

// A full garbage collection on demand, so memory checks measure what is kept, not what is not collected yet.
setFlagsFromString('--expose_gc');
const gc = runInNewContext('gc') as (options?: { type: 'major'; execution: 'sync'; flavor: 'last-resort' }) => void;
const heapMB = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed / 2 ** 20;
};
/**
 * The resident memory after a last-resort collection, which also gives free pages back to the
 * system: what the process keeps, not the high-water mark of the garbage a run made (the
 * generated annotations are megabytes per run, in this same process).
 */
const rssMB = () => {
  gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
  return process.memoryUsage().rss / 2 ** 20;
};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;

interface Started {
  ext: Extender;
  url: string;
  store: PodIndex;
}

async function startWith(o: { pods?: PodInfo[]; config?: Partial<ExtenderConfigInput>; store?: PodIndex; matrix?: LinkMatrix }): Promise<Started> {
  const store = o.store ?? new PodIndex({ pods: o.pods ?? [] });
  const now = Date.now() / 1000;
  let m = o.matrix;
  if (!m) {
    m = new LinkMatrix();
    for (const a of NODES) for (const b of NODES) if (a !== b) m.set(a, b, 'rtt_seconds', { value: 0.001 * (1 + ((a.charCodeAt(5) * 7 + b.charCodeAt(5)) % 30)), timestamp: now });
  }
  const ext = await createExtender({
    config: extenderConfigSchema.parse({ source: { type: 'static', links: [] }, kubernetes: { enabled: false }, ...o.config }),
    podStore: store,
    source: new StaticSource({ matrix: m }, 3600),
  });
  running.push(ext);
  const url = await ext.start({ host: '127.0.0.1', port: 0 });
  await ext.cache.refresh();
  return { ext, url, store };
}

const placed = (namespace: string, name: string, nodeName: string, labels: Record<string, string> = {}, annotations: Record<string, string> = {}, uid?: string): PodInfo => ({
  namespace,
  name,
  labels,
  annotations,
  nodeName,
  phase: 'Running',
  ...(uid ? { uid } : {}),
});

function argsFor(p: { namespace: string; name: string; uid?: string; labels?: Record<string, string>; annotations?: Record<string, string> }, nodes: string[]) {
  return JSON.stringify({
    Pod: { metadata: { name: p.name, namespace: p.namespace, ...(p.uid ? { uid: p.uid } : {}), labels: p.labels ?? {}, annotations: p.annotations ?? {} }, spec: {}, status: { phase: 'Pending' } },
    NodeNames: nodes,
  });
}

async function timed(url: string, path: string, body: string): Promise<{ a: HttpAnswer; ms: number }> {
  const t0 = performance.now();
  const a = await post(url, path, body);
  return { a, ms: performance.now() - t0 };
}

/**
 * One call and the CPU time this process spent on it (the server runs in it; the client's share
 * is the same for the same request): unlike wall time, it does not count the time other processes
 * on a loaded machine take the cores away.
 */
async function cpuTimed(url: string, path: string, body: string): Promise<{ a: HttpAnswer; ms: number }> {
  const c0 = process.cpuUsage();
  const a = await post(url, path, body);
  const c = process.cpuUsage(c0);
  return { a, ms: (c.user + c.system) / 1000 };
}

const metric = async (url: string, name: string): Promise<number> => {
  const text = await (await request(`${url}/metrics`, { dispatcher: agent })).body.text();
  return [...text.matchAll(new RegExp(`^${name.replace(/[{}"=]/g, (c) => `\\${c}`)} (\\S+)$`, 'gm'))].reduce((sum, m) => sum + Number(m[1]), 0);
};

describe('attacks through pod annotations and the extender port (docs/security.md), each a regression test', () => {
  it('1. one pod with 20 000 "*:!kN" alternatives (186 KB): ignored at the byte cap, costs what a plain request costs, keeps nothing', async () => {
    const pods = Array.from({ length: 5003 }, (_, i) => placed('default', `p-${i}`, NODES[i % NODES.length]!, { app: `a${i % 50}` }));
    const { url } = await startWith({ pods });
    const attacker = { namespace: 'default', name: 'attacker', annotations: { 'lpm.l2sm.io/peers': ATTACK_PEERS } };
    const plain = { namespace: 'default', name: 'plain', annotations: { 'lpm.l2sm.io/peers': 'app=a1' } };
    const attackBody = argsFor(attacker, NODES);
    const plainBody = argsFor(plain, NODES);
    for (let i = 0; i < 3; i++) await post(url, '/prioritize', plainBody); // warm-up
    const heap0 = heapMB();
    const attackMs: number[] = [];
    const plainMs: number[] = [];
    for (let i = 0; i < 8; i++) {
      const a = await timed(url, '/prioritize', attackBody);
      checkPrioritize(a.a, NODES);
      attackMs.push(a.ms);
      plainMs.push((await timed(url, '/prioritize', plainBody)).ms);
    }
    const grew = heapMB() - heap0;
    console.info(`attack 1: attack request median ${median(attackMs).toFixed(1)} ms, plain ${median(plainMs).toFixed(1)} ms, heap +${grew.toFixed(1)} MB`);
    // (it parses a 186 KB body: a few ms more at most; before, 1.5 s per 2000 alternatives)
    expect(median(attackMs)).toBeLessThan(3 * median(plainMs) + 30);
    expect(grew).toBeLessThan(20); // before: ~200 MB kept per request
    const [d] = (await get(url, '/api/v1/decisions?pod=default/attacker&limit=1')).json.decisions as Decision[];
    expect(d!.warnings[0]).toMatch(/^lpm\.l2sm\.io\/peers ignored: over \d+ bytes, over the cap of 4096/);
    expect(d!.outcome).toBe('neutral');
    expect(await metric(url, 'lpm_extender_annotation_caps_total{annotation="lpm.l2sm.io/peers",cap="bytes"}')).toBe(8);
    const all = await request(`${url}/api/v1/decisions`, { dispatcher: agent });
    expect(all.statusCode).toBe(200);
    expect((await all.body.text()).length).toBeLessThan(2 * 2 ** 20);
  });

  it('1b. over a cap, a pod the informer knows gets one Kubernetes Event (deduplicated); a made-up uid gets none', async () => {
    const api = await FakeKubeApi.start();
    const cache = new PodCache({ connection: { server: api.url }, retryDelayMs: { min: 50, max: 200 } });
    try {
      const known = api.addPod({ namespace: 'default', name: 'capped', annotations: { 'lpm.l2sm.io/peers': ATTACK_PEERS } });
      await cache.start();
      const ext = await createExtender({
        config: extenderConfigSchema.parse({ source: { type: 'static', links: [] }, kubernetes: { enabled: true } }),
        podStore: cache,
        source: new StaticSource({ matrix: new LinkMatrix() }, 3600),
        events: { connection: { server: api.url } },
      });
      running.push(ext);
      const url = await ext.start({ host: '127.0.0.1', port: 0 });
      const body = (uid: string) => argsFor({ namespace: 'default', name: 'capped', uid, annotations: { 'lpm.l2sm.io/peers': ATTACK_PEERS } }, NODES);
      for (let i = 0; i < 3; i++) expect((await post(url, '/prioritize', body(known.metadata.uid))).status).toBe(200);
      for (let i = 0; i < 3; i++) expect((await post(url, '/prioritize', body(`fake-${i}`))).status).toBe(200);
      const posted = () => api.requests.filter((r) => r.method === 'POST' && r.path === '/api/v1/namespaces/default/events');
      for (let i = 0; i < 50 && posted().length === 0; i++) await new Promise((r) => setTimeout(r, 20));
      await new Promise((r) => setTimeout(r, 200));
      expect(posted()).toHaveLength(1);
      // (the fake API answers 404 to writes: counted as an error, logged, never a scheduling error)
      expect(await metric(url, 'lpm_extender_pod_events_total{result="error"}')).toBe(1);
      expect(await metric(url, 'lpm_extender_pod_events_total{result="deduplicated"}')).toBe(2);
    } finally {
      cache.stop();
      await api.stop();
    }
  });

  it('2. 50 pods that only exist, each with 20 000 alternatives or the most the caps allow, cost other namespaces nothing', async () => {
    const victims = Array.from({ length: 2000 }, (_, i) => placed(`shop-${i % 4}`, `v-${i}`, NODES[i % NODES.length]!, { app: `s${i % 20}` }));
    const { url, store } = await startWith({ pods: victims });
    const atCap = Array.from({ length: ANNOTATION_CAPS.alternatives }, (_, i) => `*:!k${i}`).join(';');
    const bodies = Array.from({ length: 8 }, (_, i) =>
      argsFor({ namespace: `shop-${i % 4}`, name: `web-${i}`, labels: { app: 'web', tier: 'front' }, annotations: { 'lpm.l2sm.io/peers': `app=s${i}` } }, NODES),
    );
    const round = async () => {
      const ms: number[] = [];
      const answers: unknown[] = [];
      for (const b of bodies)
        for (const path of ['/filter', '/prioritize']) {
          const r = await cpuTimed(url, path, b);
          expect(r.a.status).toBe(200);
          ms.push(r.ms);
          answers.push(r.a.json);
        }
      return { ms, answers };
    };
    await round(); // warm-up
    const clean = [await round(), await round(), await round()];
    for (let i = 0; i < 50; i++)
      store.upsert(placed('evil', `e-${i}`, NODES[i % NODES.length]!, { app: 'web' }, { 'lpm.l2sm.io/peers': i % 2 ? ATTACK_PEERS : `${atCap};*:app;*:tier in (front)` }));
    // the victims' namespace does not even look at them
    expect([...store.peerDeclarersFor({ namespace: 'shop-0', labels: { app: 'web', tier: 'front' } })]).toEqual([]);
    const attacked = [await round(), await round(), await round()];
    const before = median(clean.flatMap((r) => r.ms));
    const after = median(attacked.flatMap((r) => r.ms));
    console.info(`attack 2: victim median ${before.toFixed(2)} ms of CPU clean, ${after.toFixed(2)} ms with 50 attacker pods`);
    expect(after).toBeLessThan(1.5 * before + 3); // before the fix: +22 ms per attacker pod
    expect(attacked[0]!.answers).toEqual(clean[0]!.answers);
  });

  it('3. weights 1e300 / 1e400 and "*:app" from another namespace: no effect by default; allowed, still integer scores 0..10', async () => {
    const pods = [
      placed('shop', 'db-0', 'node-1', { app: 'db' }),
      placed('evil', 'magnet', 'node-9', { app: 'magnet' }, { 'lpm.l2sm.io/peers': '*:app', 'lpm.l2sm.io/peer-weights': '*:app: 1e300' }),
      placed('evil', 'magnet-inf', 'node-8', { app: 'magnet' }, { 'lpm.l2sm.io/peers': '*:app', 'lpm.l2sm.io/peer-weights': '{"*:app": 1e400}' }),
    ];
    const body = argsFor({ namespace: 'shop', name: 'web', labels: { app: 'web' }, annotations: { 'lpm.l2sm.io/peers': 'app=db' } }, NODES);
    const lonely = argsFor({ namespace: 'shop', name: 'lonely', labels: { app: 'x' } }, NODES);
    const closed = await startWith({ pods });
    const p = await post(closed.url, '/prioritize', body);
    checkPrioritize(p, NODES);
    const clean = await startWith({ pods: pods.slice(0, 1) });
    expect(p.json).toEqual((await post(clean.url, '/prioritize', body)).json);
    expect((await post(closed.url, '/prioritize', lonely)).json.every((h: { Score: number }) => h.Score === 0)).toBe(true);
    // the operator lets evil pull across namespaces: it does, with clamped weights, and nothing is null
    const open = await startWith({ pods, config: { peers: { crossNamespace: { reverse: ['evil'] } } } });
    for (const b of [body, lonely]) {
      const a = await post(open.url, '/prioritize', b);
      checkPrioritize(a, NODES);
      expect(a.text).not.toContain('null');
      const score = Object.fromEntries((a.json as Array<{ Host: string; Score: number }>).map((h) => [h.Host, h.Score]));
      expect(Math.max(score['node-9']!, score['node-8']!)).toBe(10);
    }
  });

  it('4. a client sending headers and one body byte, or half its headers, is cut after the timeouts; the connection limit holds', async () => {
    const { url } = await startWith({ config: { http: { headersTimeout: '1s', requestTimeout: '2s', maxConnections: 40 } } });
    const port = Number(new URL(url).port);
    const open = (first?: string) => {
      const socket = connect(port, '127.0.0.1');
      let data = '';
      socket.setEncoding('utf8');
      socket.on('data', (d: string) => (data += d));
      socket.on('error', () => undefined);
      const closed = new Promise<{ at: number; data: string }>((resolve) => socket.on('close', () => resolve({ at: performance.now(), data })));
      if (first) socket.write(first);
      return { socket, closed };
    };
    const t0 = performance.now();
    const oneByte = open('POST /filter HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{');
    const halfHeaders = open('POST /filter HTTP/1.1\r\nHost: x\r\n');
    const [body, headers] = await Promise.all([oneByte.closed, halfHeaders.closed]);
    console.info(`attack 4: one body byte cut after ${((body.at - t0) / 1000).toFixed(2)} s, half headers after ${((headers.at - t0) / 1000).toFixed(2)} s`);
    expect(body.at - t0).toBeLessThan(6000); // requestTimeout 2 s, checked every 200 ms (before: never)
    expect(body.at - t0).toBeGreaterThan(1500);
    expect(body.data).toMatch(/^HTTP\/1\.1 408/);
    expect(headers.at - t0).toBeLessThan(5000);
    // 60 idle connections against a limit of 40: the excess is closed at once, and counted
    const idle = Array.from({ length: 60 }, () => open());
    await new Promise((r) => setTimeout(r, 300));
    const closedSoon = await Promise.all(idle.map((c) => Promise.race([c.closed.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 500))])));
    expect(closedSoon.filter(Boolean).length).toBeGreaterThanOrEqual(19);
    for (const c of idle) c.socket.destroy();
    await new Promise((r) => setTimeout(r, 200));
    expect(await metric(url, 'lpm_extender_connections_rejected_total{reason="max_connections"}')).toBeGreaterThanOrEqual(19);
    checkPrioritize(await post(url, '/prioritize', argsFor({ namespace: 'default', name: 'after' }, ['node-1'])), ['node-1']);
  });

  it('5. /prioritize for pods the store does not know records nothing, and a known pod\'s window cannot be renewed', async () => {
    let clock = 0;
    const store = new PodIndex({
      now: () => clock,
      assumeTtlMs: 30_000,
      pods: [placed('shop', 'cache-0', 'node-2', { app: 'cache' }), placed('shop', 'db-0', 'node-7', { app: 'db' }), { namespace: 'shop', name: 'cache-1', labels: { app: 'cache' }, annotations: { 'lpm.l2sm.io/peers': 'app=db' }, phase: 'Pending' }],
    });
    const { url } = await startWith({ store });
    const victim = argsFor({ namespace: 'shop', name: 'web', labels: { app: 'web' }, annotations: { 'lpm.l2sm.io/peers': 'app=cache' } }, NODES);
    const before = (await post(url, '/prioritize', victim)).json;
    const refused0 = await metric(url, 'lpm_extender_assumed_placements_total{result="refused"}');
    // fake cache pods, each "chosen" next to db on node-7: before the fix every one became a peer there
    for (let i = 0; i < 1000; i++) {
      const fake = argsFor({ namespace: 'shop', name: `cache-fake-${i}`, labels: { app: 'cache' }, annotations: { 'lpm.l2sm.io/peers': 'app=db' } }, ['node-7', 'node-3']);
      expect((await post(url, '/prioritize', fake)).status).toBe(200);
    }
    expect(store.size).toEqual({ confirmed: 3, assumed: 0 });
    expect((await metric(url, 'lpm_extender_assumed_placements_total{result="refused"}')) - refused0).toBe(1000);
    expect((await post(url, '/prioritize', victim)).json).toEqual(before);
    // the pending cache-1 is known: its choice is assumed for 30 s from the first call, however often it is asked again
    const known = argsFor({ namespace: 'shop', name: 'cache-1', labels: { app: 'cache' }, annotations: { 'lpm.l2sm.io/peers': 'app=db' } }, ['node-7', 'node-3']);
    for (let t = 0; t <= 60_000; t += 5000) {
      clock = t;
      await post(url, '/prioritize', known);
      expect(store.isAssumed('shop', 'cache-1'), `at ${t / 1000} s`).toBe(t < 30_000);
    }
  });

  it('6. names are Kubernetes names (1 MB names are a 400); the decisions API stays bounded and never answers 5xx', async () => {
    const crowd = Array.from({ length: 3000 }, (_, i) => placed('default', `crowd-${i}`, 'node-1', { app: 'crowd' }));
    const { url } = await startWith({ pods: crowd });
    const huge = Array.from({ length: 20 }, (_, i) => `${i}`.padEnd(1_000_000, 'n'));
    const bad = await post(url, '/prioritize', argsFor({ namespace: 'default', name: 'p' }, huge));
    expect(bad.status).toBe(400);
    expect(bad.json.Error).toMatch(/^NodeNames\[0\]: "0n{59}\.\.\." is not a Kubernetes name/);
    // the longest names there are, 5000 of them, 40 times, from a pod with 3000 peers on one node
    const longNodes = Array.from({ length: 5000 }, (_, i) => `${String(i).padStart(5, '0')}.${'n'.repeat(247)}`);
    const body = argsFor({ namespace: 'default', name: 'p'.repeat(253), annotations: { 'lpm.l2sm.io/peers': 'app=crowd' } }, ['node-1', ...longNodes]);
    const heap0 = heapMB();
    for (let i = 0; i < 40; i++) expect((await post(url, '/prioritize', body)).status).toBe(200);
    const res = await request(`${url}/api/v1/decisions?limit=50`, { dispatcher: agent });
    const text = await res.body.text();
    expect(res.statusCode).toBe(200);
    const served = JSON.parse(text) as { decisions: Decision[] };
    expect(served.decisions.length).toBeGreaterThan(0);
    expect(text.length).toBeLessThan(33 * 2 ** 20);
    for (const d of served.decisions) for (const n of d.nodes ?? []) for (const line of n.links ?? []) expect(line.length).toBeLessThan(450);
    const line = served.decisions[0]!.nodes!.find((n) => n.node === 'node-1')!.links![0]!;
    expect(line).toMatch(/^node-1 \[default\/crowd-\d+, default\/crowd-\d+, default\/crowd-\d+, and 2997 more\] weight 3000/);
    expect(heapMB() - heap0).toBeLessThan(60);
    for (const q of ['limit=0', 'limit=x', 'limit=1&limit=2', `pod=${'x'.repeat(1000)}`]) {
      const r = await request(`${url}/api/v1/decisions?${q}`, { dispatcher: agent });
      await r.body.text();
      expect(r.statusCode, q).toBe(400);
    }
  });

  it('7. the read API and the web page can be moved off the scheduler port, or turned off', async () => {
    const off = await startWith({ config: { readApi: { listen: 'off' } } });
    for (const path of ['/api/v1/decisions', '/api/v1/matrix', '/']) expect((await get(off.url, path).catch(() => ({ status: 404 }))).status, path).toBe(404);
    expect((await get(off.url, '/healthz')).status).toBe(200);
    const own = await startWith({ config: { readApi: { listen: '127.0.0.1:0' } } });
    checkPrioritize(await post(own.url, '/prioritize', argsFor({ namespace: 'default', name: 'seen' }, ['node-1'])), ['node-1']);
    expect((await get(own.url, '/api/v1/decisions').catch(() => ({ status: 404 }))).status).toBe(404);
    const apiUrl = own.ext.readApiUrl!;
    expect(apiUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(apiUrl).not.toBe(own.url);
    expect((await get(apiUrl, '/api/v1/decisions')).json.decisions[0]).toMatchObject({ pod: 'default/seen' });
    const page = await request(`${apiUrl}/`, { dispatcher: agent });
    expect(page.statusCode).toBe(200);
    await page.body.text();
  });
});

describe('adversarial annotations at cluster scale (fast-check): 5000 nodes, 30 pods per node', () => {
  // Worst cases within the API server's 256 KiB of annotations per pod: far over every cap, exactly
  // at the caps (32 alternatives of 16 negative requirements, 32 values per in(), 4 KiB), selectors
  // naming the victims' namespaces and labels, "*:" everywhere, extreme weights, networks of others.
  const over = fc.integer({ min: 600, max: 20_000 }).map((n) => Array.from({ length: n }, (_, i) => `*:!k${i}`).join(';'));
  const atCapNegative = fc.integer({ min: 1, max: ANNOTATION_CAPS.requirements }).map((reqs) => {
    const alt = (a: number) => `*:${Array.from({ length: reqs }, (_, r) => `!k${a}-${r}`).join(',')}`;
    const text = Array.from({ length: ANNOTATION_CAPS.alternatives }, (_, a) => alt(a)).join(';');
    // at most the byte cap (fewer alternatives then): the most a pod can make the extender match
    return text.length <= ANNOTATION_CAPS.bytes ? text : text.slice(0, text.lastIndexOf(';', ANNOTATION_CAPS.bytes));
  });
  const atCapIn = fc.constant(Array.from({ length: ANNOTATION_CAPS.alternatives }, (_, a) => `*:app in (${Array.from({ length: ANNOTATION_CAPS.values }, (_, v) => `app-${a * 32 + v}`).join(',')})`).join(';'));
  const peersArb = fc.oneof(
    over,
    atCapNegative,
    atCapIn,
    fc.constantFrom('*:app', '*:pod-template-hash', '*:app, !nothing', 'team-3:app=app-53', 'bench:app=bench-peer-10; team-0:app', '*:app,!app', '[{"selector": "app", "namespace": "*"}, {"selector": "app=app-53", "namespace": "team-3"}]', '!k', 'app'),
    fc.string({ unit: 'binary', maxLength: 4000 }),
  );
  const weightsArb = fc.oneof(
    fc.constantFrom('*:app: 1e400', '{"*:app": 1e300}', '*:app: 99999999TB/s', 'app: -5', '{"app": NaN}'),
    fc.constant(Array.from({ length: ANNOTATION_CAPS.weights }, (_, i) => `*:app=app-${i}: 1e308`).join(';')),
    // at most 4000 entries (63 KB): with 20 000 alternatives of peers (189 KB) and the networks, still under 256 KiB
    fc.integer({ min: 33, max: 4000 }).map((n) => Array.from({ length: n }, (_, i) => `*:!k${i}: 1e300`).join(';')),
  );
  const VICTIM_NET = 'team-0/app-0-net';
  const networksArb = fc.oneof(
    fc.subarray(['evil-net', VICTIM_NET, 'team-5/app-5-net-x', 'lpm-measurement', 'bench/bench-net-10'], { minLength: 1 }).map((l) => l.join(',')),
    fc.constant(Array.from({ length: ANNOTATION_CAPS.networks + 1 }, (_, i) => `net-${i}`).join(',')),
    fc.constant(JSON.stringify(Array.from({ length: 16 }, (_, i) => ({ name: `net-${i}`, namespace: 'team-0', ips: ['10.0.0.1/24'] })))),
  );
  const attackerArb = fc.record(
    {
      peers: peersArb,
      weights: weightsArb,
      networks: networksArb,
      node: fc.nat(4999),
      ns: fc.integer({ min: 0, max: 4 }),
      app: fc.constantFrom('app-53', 'app-3', 'bench-peer-10', 'evil'),
    },
    { requiredKeys: ['node', 'ns', 'app'] },
  );

  it('no answer slower than twice a clean store\'s p99, RSS +<100 MB, scores integers 0..10, no influence across namespaces the policy does not allow', async () => {
    const t0 = performance.now();
    const now = Date.now() / 1000;
    const cluster = buildCluster({ nodes: 5000, podsPerNode: 30, peerCounts: [10] });
    const store = new PodIndex({ pods: cluster.pods, assumeTtlMs: 30_000 });
    // (max ages well above the test's length, below the matrix's deliberately stale values: answers must not change with time)
    const config = { decisions: { keep: 50 }, staleness: { rttMaxAge: '30m', bandwidthMaxAge: '30m' } };
    const { url } = await startWith({ store, matrix: buildMatrix(cluster, now), config });
    const nodes = cluster.nodeNames;
    console.info(`fuzz: ${store.size.confirmed} pods on ${nodes.length} nodes loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    // the victims: the bench's pods under test (10 and 100 peers) and team pods with selectors and networks
    const victims = [
      ...cluster.testPods.map((t) => ({ ...t.info, network: t.info.annotations['l2sm/networks'] ? `bench/${t.info.annotations['l2sm/networks']}` : '' })),
      ...[0, 3, 5, 10, 25, 40].map((k) => ({
        namespace: `team-${k}`,
        name: `victim-${k}`,
        uid: `victim-uid-${k}`,
        labels: { app: `app-${k}` },
        annotations: { 'lpm.l2sm.io/peers': `app=app-${k + 50}`, ...(k % 5 === 0 ? { 'l2sm/networks': `app-${k}-net` } : {}) },
        network: k % 5 === 0 ? `team-${k}/app-${k}-net` : '',
      })),
    ];
    const bodies = victims.map((v) => argsFor(v, nodes));
    const round = async () => {
      const out: Array<{ ms: number; answer: string }> = [];
      for (const b of bodies)
        for (const path of ['/filter', '/prioritize']) {
          const r = await cpuTimed(url, path, b);
          expect(r.a.status, r.a.text.slice(0, 200)).toBe(200);
          out.push({ ms: r.ms, answer: r.a.text });
        }
      return out;
    };
    await round(); // warm-up: JIT, indexes, column layouts
    const clean = [await round(), await round(), await round()];
    const p99 = quantile(clean.flatMap((r) => r.map((x) => x.ms)), 0.99);
    const budget = 2 * p99;
    // The clean p99 is that of the costliest answer (a filter failing thousands of nodes); each
    // answer is also held to its own clean time (the same request against the clean store), and
    // the attackers' own to the costliest clean prioritize that resolves peers (the team pods'):
    // what "a normal request" costs. Margins: 2x and 25 ms (a loaded CI machine).
    const own = clean[0]!.map((_, k) => Math.max(...clean.map((r) => r[k]!.ms)));
    const normal = Math.max(...own.filter((_, k) => k % 2 === 1 && victims[k >> 1]!.namespace.startsWith('team-')));
    console.info(`fuzz: clean p99 ${p99.toFixed(1)} ms over ${clean.length * bodies.length * 2} answers, a normal prioritize ${normal.toFixed(1)} ms`);

    // an answer over its budget is asked again (twice): a GC pause is gone then, a real cost is not
    const within = async (path: string, body: string, first: { ms: number; a: HttpAnswer }, limit: number) => {
      let best = first.ms;
      for (let i = 0; i < 2 && best > limit; i++) best = Math.min(best, (await cpuTimed(url, path, body)).ms);
      return best;
    };

    let heap0 = 0;
    let rss0 = 0;
    let runs = 0;
    let slowest = 0;
    const property = fc.asyncProperty(fc.array(attackerArb, { minLength: 1, maxLength: 50 }), async (attackers) => {
        runs++;
        const pods = attackers.map((a, i): PodInfo => {
          const annotations: Record<string, string> = {};
          if (a.peers !== undefined) annotations['lpm.l2sm.io/peers'] = a.peers;
          if (a.weights !== undefined) annotations['lpm.l2sm.io/peer-weights'] = a.weights;
          if (a.networks !== undefined) annotations['l2sm/networks'] = a.networks;
          return placed(`evil-${a.ns}`, `attacker-${i}`, nodes[a.node]!, { app: a.app, 'pod-template-hash': 'abc123' }, annotations, `attacker-uid-${i}`);
        });
        const bytes = pods.map((p) => Object.entries(p.annotations).reduce((n, [k, v]) => n + k.length + Buffer.byteLength(v), 0));
        expect(Math.max(...bytes)).toBeLessThanOrEqual(MAX_ANNOTATIONS_BYTES);
        // the networks the attackers really joined (allowed peering: both pods joined it)
        const joined = new Set(pods.flatMap((p) => compilePeerAnnotations(p).networks));
        for (const p of pods) store.upsert(p);
        try {
          const answers: string[] = [];
          for (const [i, b] of bodies.entries())
            for (const path of ['/filter', '/prioritize']) {
              const r = await cpuTimed(url, path, b);
              expect(r.a.status).toBe(200);
              if (path === '/prioritize') hostPriorityListSchema.parse(r.a.json);
              // (a victim whose network an attacker joined has that attacker as a peer: a real peer costs what a peer costs)
              const v = victims[i]!;
              const limit = v.network && joined.has(v.network) ? budget : Math.min(budget, 2 * own[answers.length]! + 25);
              const ms = await within(path, b, r, limit);
              slowest = Math.max(slowest, ms);
              expect(ms, `${victims[i]!.namespace}/${victims[i]!.name} ${path}`).toBeLessThanOrEqual(limit);
              answers.push(r.a.text);
            }
          // no influence: a victim's answers are what they were, unless an attacker joined its network
          answers.forEach((text, k) => {
            const v = victims[k >> 1]!;
            if (v.network && joined.has(v.network)) return;
            const was = clean[0]![k]!.answer;
            let at = 0;
            while (at < text.length && text[at] === was[at]) at++;
            expect(text === was, `${v.namespace}/${v.name}: answer changed at ${at}: ${was.slice(at - 80, at + 120)} -> ${text.slice(at - 80, at + 120)}`).toBe(true);
          });
          // the attackers' own calls (pending copies of themselves): as cheap, as well-formed
          for (const p of pods.slice(0, 6)) {
            const next = argsFor({ ...p, name: `${p.name}-next`, uid: `${p.uid}-next` }, nodes);
            for (const path of ['/filter', '/prioritize']) {
              const r = await cpuTimed(url, path, next);
              expect(r.a.status).toBe(200);
              if (path === '/prioritize') hostPriorityListSchema.parse(r.a.json);
              const limit = Math.min(budget, 2 * normal + 25);
              const ms = await within(path, next, r, limit);
              slowest = Math.max(slowest, ms);
              expect(ms, `${p.namespace}/${p.name} ${path}`).toBeLessThanOrEqual(limit);
            }
          }
        } finally {
          for (const p of pods) store.remove(p.namespace, p.name);
        }
      });
    // (a counterexample holds megabytes of annotations: report the seed and what failed, not the value)
    // Memory is measured from after a few warm-up runs: the first run makes V8 touch heap pages it
    // had committed but not used yet (heapTotal does not change, RSS grows by ~80 MB); what the
    // bound is about is memory an attack leaves behind, run after run.
    const warm = await fc.check(property, { numRuns: 3, endOnFailure: true });
    if (warm.failed) throw new Error(`property failed (seed ${warm.seed}, path ${warm.counterexamplePath}): ${String(warm.errorInstance).slice(0, 2000)}`);
    heap0 = heapMB();
    rss0 = rssMB();
    const result = await fc.check(property, { numRuns: 20, endOnFailure: true });
    if (result.failed) throw new Error(`property failed (seed ${result.seed}, path ${result.counterexamplePath}): ${String(result.errorInstance).slice(0, 2000)}`);
    const kept = heapMB() - heap0;
    const grew = rssMB() - rss0;
    console.info(
      `fuzz: ${runs} runs, slowest answer ${slowest.toFixed(1)} ms of CPU (budget ${budget.toFixed(1)} ms), heap kept +${kept.toFixed(1)} MB, RSS +${grew.toFixed(1)} MB, ${((performance.now() - t0) / 1000).toFixed(1)} s in all`,
    );
    expect(grew).toBeLessThan(100);
    expect(kept).toBeLessThan(50);
  }, 300_000);
});
