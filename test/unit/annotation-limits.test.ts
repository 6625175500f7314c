// Pod annotations are untrusted input (docs/security.md): every cap ignores the whole annotation
// with a warning and a cap hit; weights are finite, non-negative and clamped; what may cross
// namespaces is the policy's call, per direction; scores are integers 0..10 whatever the weights.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ANNOTATION_CAPS,
  compilePeerAnnotations,
  MAX_PEER_WEIGHT,
  parseNetworkKeys,
  parsePeerSelectors,
  parsePeerWeights,
  resolvePeers,
  SAME_NAMESPACE_POLICY,
  type PeeringPolicy,
} from '../../extender/peers/peerAnnotations.js';
import { PodIndex } from '../../extender/pods/podIndex.js';
import type { PodInfo } from '../../extender/pods/podStore.js';
import { evaluate, scaleScores, scoresOf, DEFAULT_SCORING } from '../../extender/scoring/scoring.js';
import { LinkMatrix } from '../../src/linkMatrix.js';
import { EventRecorder } from '../../extender/events.js';
import type { CoreV1Event } from '@kubernetes/client-node';

const pod = (namespace: string, name: string, o: Partial<PodInfo> = {}): PodInfo => ({ namespace, name, labels: {}, annotations: {}, ...o });

describe('annotation caps: over any of them the whole annotation is ignored, with a warning and a cap hit', () => {
  const cases: Array<[string, string, keyof typeof ANNOTATION_CAPS, (v: string) => { warnings: string[]; capHits: unknown[] }]> = [
    ['bytes', 'app=db; ' + 'x'.repeat(ANNOTATION_CAPS.bytes), 'bytes', parsePeerSelectors],
    ['alternatives (text)', Array.from({ length: ANNOTATION_CAPS.alternatives + 1 }, (_, i) => `app=a${i}`).join(';'), 'alternatives', parsePeerSelectors],
    ['alternatives (JSON)', JSON.stringify(Array.from({ length: ANNOTATION_CAPS.alternatives + 1 }, (_, i) => `app=a${i}`)), 'alternatives', parsePeerSelectors],
    ['requirements', Array.from({ length: ANNOTATION_CAPS.requirements + 1 }, (_, i) => `k${i}`).join(','), 'requirements', parsePeerSelectors],
    ['values per in()', `app in (${Array.from({ length: ANNOTATION_CAPS.values + 1 }, (_, i) => `v${i}`).join(',')})`, 'values', parsePeerSelectors],
    ['weights', Array.from({ length: ANNOTATION_CAPS.weights + 1 }, (_, i) => `app=a${i}: 1`).join(';'), 'weights', parsePeerWeights],
    ['weight requirements', `${Array.from({ length: ANNOTATION_CAPS.requirements + 1 }, (_, i) => `k${i}`).join(',')}: 5`, 'requirements', parsePeerWeights],
    ['networks', Array.from({ length: ANNOTATION_CAPS.networks + 1 }, (_, i) => `net-${i}`).join(','), 'networks', (v) => parseNetworkKeys(v, 'ns')],
  ];
  for (const [what, value, cap, parse] of cases)
    it(what, () => {
      const r = parse(value);
      expect(r.capHits).toEqual([expect.objectContaining({ cap })]);
      expect(r.warnings).toEqual([expect.stringMatching(new RegExp(`ignored: .*over the cap of ${ANNOTATION_CAPS[cap]}`))]);
      expect('selectors' in r ? r.selectors : 'rules' in r ? r.rules : (r as unknown as { keys: string[] }).keys).toEqual([]);
    });

  it('at the caps, the annotation counts', () => {
    const alts = Array.from({ length: ANNOTATION_CAPS.alternatives }, (_, i) => `app=a${i}`).join(';');
    expect(parsePeerSelectors(alts)).toMatchObject({ capHits: [], warnings: [] });
    expect(parsePeerSelectors(alts).selectors).toHaveLength(ANNOTATION_CAPS.alternatives);
  });

  it('the attack annotation (20 000 "*:!kN", 186 KB) is one cheap length check, whatever its size', () => {
    const huge = Array.from({ length: 20_000 }, (_, i) => `*:!k${i}`).join(';');
    const t0 = performance.now();
    for (let i = 0; i < 100; i++) expect(parsePeerSelectors(huge).capHits[0]!.cap).toBe('bytes');
    expect(performance.now() - t0).toBeLessThan(2000); // ~µs each; generous for a loaded machine
    const p = pod('evil', 'e', { annotations: { 'lpm.l2sm.io/peers': huge } });
    const r = resolvePeers(p, [pod('evil', 'x', { nodeName: 'n1' })]);
    expect(r.peers).toEqual([]);
    expect(r.capHits).toEqual([expect.objectContaining({ annotation: 'lpm.l2sm.io/peers', cap: 'bytes' })]);
  });

  it('compiles once per annotations object (a pod version), not per read', () => {
    const p = pod('ns', 'p', { annotations: { 'lpm.l2sm.io/peers': 'app=db' } });
    expect(compilePeerAnnotations(p)).toBe(compilePeerAnnotations(p));
    expect(compilePeerAnnotations({ ...p, annotations: { ...p.annotations } })).not.toBe(compilePeerAnnotations(p));
  });
});

describe('weights: finite, non-negative, clamped', () => {
  it('clamps huge and infinite weights to MAX_PEER_WEIGHT with a warning; refuses negative and NaN', () => {
    const r = parsePeerWeights('app=a: 1e300; app=b: 1e400; app=c: -1; app=d: 99999999999999999999TB/s');
    expect(r.rules.map((x) => [x.text, x.weight])).toEqual([
      ['app=a', MAX_PEER_WEIGHT],
      ['app=b', MAX_PEER_WEIGHT],
      ['app=d', MAX_PEER_WEIGHT],
    ]);
    expect(r.warnings.filter((w) => w.includes('clamped'))).toHaveLength(3);
    expect(r.warnings.some((w) => w.includes('"app=c"'))).toBe(true);
    const j = parsePeerWeights('{"app=a": 1e400, "app=b": null}');
    expect(j.rules.map((x) => x.weight)).toEqual([MAX_PEER_WEIGHT]);
  });
});

describe('peering policy: what crosses namespaces', () => {
  // an attacker in namespace evil, a victim scheduled in shop, a pod of shop's own on n3
  const evil = pod('evil', 'magnet', {
    labels: { app: 'magnet' },
    annotations: { 'lpm.l2sm.io/peers': '*:app', 'lpm.l2sm.io/peer-weights': '*:app: 1e300' },
    nodeName: 'n-evil',
  });
  const friend = pod('shop', 'db', { labels: { app: 'db' }, nodeName: 'n3' });
  const web = pod('shop', 'web', { labels: { app: 'web' }, annotations: { 'lpm.l2sm.io/peers': 'app=db' } });
  const resolve = (policy: PeeringPolicy) => resolvePeers(web, [evil, friend], { policy });

  it('default: a pod of another namespace cannot select (reverse) or weigh pods of this one', () => {
    const r = resolve(SAME_NAMESPACE_POLICY);
    expect(r.peers.map((p) => p.id)).toEqual(['shop/db']);
  });

  it('reverse allowed for evil: it pulls, at a clamped weight', () => {
    const r = resolve({ forward: [], reverse: ['evil'], networks: true });
    expect(r.peers.find((p) => p.id === 'evil/magnet')).toMatchObject({ weight: MAX_PEER_WEIGHT, via: ['selected by its *:app'] });
  });

  it('forward: a selector of other namespaces needs the policy, and a positive requirement', () => {
    const seeker = pod('shop', 'seeker', { annotations: { 'lpm.l2sm.io/peers': 'evil:app=magnet; *:!k' } });
    expect(resolvePeers(seeker, [evil], {}).peers).toEqual([]);
    const allowed = resolvePeers(seeker, [evil, friend], { policy: { forward: ['shop'], reverse: [], networks: true } });
    expect(allowed.peers.map((p) => p.id)).toEqual(['evil/magnet', 'shop/db']); // db via "*:!k" in shop only
    expect(allowed.warnings.join('\n')).toMatch(/"\*:!k" selects in the pod's own namespace only/);
  });

  it("a shared L2S-M network crosses namespaces by default (both joined it), at the default weight unless the pod weighs it", () => {
    const joined = pod('evil', 'joined', { annotations: { 'l2sm/networks': 'shop/shop-net', 'lpm.l2sm.io/peer-weights': '*:app: 1e12' }, nodeName: 'n9' });
    const member = pod('shop', 'member', { labels: { app: 'x' }, annotations: { 'l2sm/networks': 'shop-net' } });
    expect(resolvePeers(member, [joined]).peers).toEqual([expect.objectContaining({ id: 'evil/joined', weight: 1, via: ['network shop/shop-net'] })]);
    expect(resolvePeers(member, [joined], { policy: { ...SAME_NAMESPACE_POLICY, networks: false } }).peers).toEqual([]);
  });

  it('the reverse index files a declarer where the policy can look it up, and nowhere else', () => {
    const index = new PodIndex({ pods: [evil, friend] });
    expect([...index.peerDeclarersFor(web)]).toEqual([]);
    expect([...index.peerDeclarersFor(web, ['evil'])]).toEqual([evil]);
  });
});

describe('scores: integers 0..10, whatever the weights', () => {
  const NODES = ['n0', 'n1', 'n2', 'n3'];
  const weight = fc.oneof(
    fc.constantFrom(0, 1, 1e-300, 5e-324, 1e12, 1e300, 1.7976931348623157e308, Infinity, Number.NaN, -1, -Infinity),
    fc.double(),
  );

  it('scaleScores over any raw values (property)', () => {
    fc.assert(
      fc.property(fc.array(weight, { minLength: 1, maxLength: 20 }), (raws) => {
        const nodes = scaleScores(raws.map((raw) => ({ raw, score: -1 })));
        for (const n of nodes) expect(Number.isInteger(n.score) && n.score >= 0 && n.score <= 10, `${n.raw} -> ${n.score}`).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('end to end from annotations: extreme weights never give a score outside 0..10 (property)', () => {
    const text = fc.oneof(weight.map(String), fc.constantFrom('1e400', '1e308', '12MB/s', '1e30TB/s', '0', 'NaN', '-0'));
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom(...NODES), text), { minLength: 1, maxLength: 12 }), fc.constantFrom(0, 1, 1e12), (peers, defaultWeight) => {
        const pods = peers.map(([node], i) => pod('ns', `peer-${i}`, { labels: { app: `a${i}` }, nodeName: node }));
        const weights = peers.map(([, w], i) => `app=a${i}: ${w}`).join(';');
        const me = pod('ns', 'me', { annotations: { 'lpm.l2sm.io/peers': 'app', 'lpm.l2sm.io/peer-weights': weights } });
        const r = resolvePeers(me, [...pods, ...pods.map((p) => ({ ...p, name: `${p.name}-twin` }))], { defaultWeight });
        for (const p of r.peers) expect(p.weight >= 0 && p.weight <= MAX_PEER_WEIGHT).toBe(true);
        const m = new LinkMatrix();
        const now = 1000;
        for (const a of NODES) for (const b of NODES) if (a !== b) m.set(a, b, 'rtt_seconds', { value: 0.001 * (a.charCodeAt(1) + b.charCodeAt(1)), timestamp: now });
        const ev = evaluate({ candidates: [...NODES, 'unknown'], peers: r, limits: { warnings: [] }, matrix: m, now, config: DEFAULT_SCORING });
        for (const s of [...scoresOf(ev.raw), ...ev.nodes.map((n) => n.score)]) expect(Number.isInteger(s) && s >= 0 && s <= 10).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});

describe('Events on pods whose annotations were ignored: deduplicated, rate-limited, bounded', () => {
  it('one Event per pod and message per 10 minutes, at most 5/s with a burst of 20', async () => {
    let now = 0;
    const sent: Array<{ namespace: string; event: CoreV1Event }> = [];
    const results: string[] = [];
    const rec = new EventRecorder({
      create: async (namespace, event) => void sent.push({ namespace, event }),
      onResult: (r) => results.push(r),
      now: () => now,
      maxTracked: 100,
    });
    const p = (i: number): PodInfo => pod('shop', `p-${i}`, { uid: `u-${i}` });
    rec.annotationsIgnored(p(0), 'lpm ignored: too big');
    rec.annotationsIgnored(p(0), 'lpm ignored: too big');
    now = 599_000;
    rec.annotationsIgnored(p(0), 'lpm ignored: too big');
    rec.annotationsIgnored(pod('shop', 'no-uid'), 'x'); // not a pod the API knows: never
    await Promise.resolve();
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({
      namespace: 'shop',
      event: {
        involvedObject: { kind: 'Pod', namespace: 'shop', name: 'p-0', uid: 'u-0' },
        reason: 'LpmAnnotationIgnored',
        type: 'Warning',
        message: 'lpm ignored: too big',
        metadata: { generateName: 'p-0.', namespace: 'shop' },
      },
    });
    now = 600_000; // ten minutes later: told again
    rec.annotationsIgnored(p(0), 'lpm ignored: too big');
    // a burst of new pods: the bucket's 20 (one just used), then 5 per second
    for (let i = 1; i <= 100; i++) rec.annotationsIgnored(p(i), 'm');
    await Promise.resolve();
    expect(sent).toHaveLength(21);
    now += 1000;
    for (let i = 101; i <= 200; i++) rec.annotationsIgnored(p(i), 'm');
    await Promise.resolve();
    expect(sent).toHaveLength(26);
    expect(results.filter((r) => r === 'deduplicated')).toHaveLength(2);
    expect(results.filter((r) => r === 'rate_limited')).toHaveLength(81 + 95);
  });
});
