// Traffic between apps (PromQL answers in Prometheus' wire format) -> weighted peer rules.
import { describe, expect, it } from 'vitest';
import { matchesSelector } from '../../src/labelSelector.js';
import { instantVector } from '../../extender/sources/prometheusResponse.js';
import { DEFAULT_TRAFFIC_LABELS, TrafficMatrix, trafficFromSamples } from '../../extender/peers/trafficMatrix.js';

const answer = (result: Array<{ metric: Record<string, string>; value: number | string }>) =>
  instantVector(
    { status: 'success', data: { resultType: 'vector', result: result.map((r) => ({ metric: r.metric, value: [1700000000, String(r.value)] })) } },
    'q',
  );

const istio = (src: string, dst: string, ns = 'shop') => ({
  source_app: src,
  destination_app: dst,
  source_workload_namespace: ns,
  destination_workload_namespace: ns,
});

describe('trafficFromSamples', () => {
  it('adds both directions of an app pair, per namespace', () => {
    const m = trafficFromSamples(
      answer([
        { metric: istio('front', 'cart'), value: 30 },
        { metric: istio('cart', 'front'), value: 50 },
        { metric: istio('front', 'cart', 'other'), value: 7 },
      ]),
      DEFAULT_TRAFFIC_LABELS,
    );
    expect(m.between({ namespace: 'shop', app: 'front' }, { namespace: 'shop', app: 'cart' })).toBe(80);
    expect(m.between({ namespace: 'shop', app: 'cart' }, { namespace: 'shop', app: 'front' })).toBe(80);
    expect(m.between({ namespace: 'other', app: 'front' }, { namespace: 'other', app: 'cart' })).toBe(7);
    expect(m.size).toBe(2);
  });

  it('skips samples without both app labels, and values that are not finite and positive', () => {
    const m = trafficFromSamples(
      answer([
        { metric: { source_app: 'a' }, value: 10 },
        { metric: istio('a', 'unknown'), value: 'NaN' },
        { metric: istio('a', 'b'), value: '+Inf' },
        { metric: istio('a', 'c'), value: -3 },
        { metric: istio('a', 'd'), value: 0 },
        { metric: istio('a', 'e'), value: 4 },
      ]),
      DEFAULT_TRAFFIC_LABELS,
    );
    expect(m.toJSON().pairs).toEqual([{ a: 'shop/a', b: 'shop/e', bytesPerSecond: 4 }]);
  });

  it('without namespace labels an app is the same app in every namespace', () => {
    const labels = { ...DEFAULT_TRAFFIC_LABELS, sourceNamespace: '', targetNamespace: '' };
    const m = trafficFromSamples(answer([{ metric: istio('front', 'cart'), value: 12 }]), labels);
    const rules = m.rulesFor({ namespace: 'anywhere', name: 'front-0', labels: { app: 'front' }, annotations: {} });
    expect(rules.map((r) => [r.text, r.namespace, r.weight])).toEqual([['*:app=cart', '*', 12]]);
  });
});

describe('TrafficMatrix.rulesFor', () => {
  it('one selector per app the pod talks to, heaviest first, matching that app', () => {
    const m = new TrafficMatrix('app');
    m.add({ namespace: 'shop', app: 'front' }, { namespace: 'shop', app: 'cart' }, 10);
    m.add({ namespace: 'shop', app: 'front' }, { namespace: 'shop', app: 'search' }, 90);
    m.add({ namespace: 'shop', app: 'front' }, { namespace: 'shop', app: 'front' }, 5); // replicas talking: once
    const rules = m.rulesFor({ namespace: 'shop', name: 'front-1', labels: { app: 'front' }, annotations: {} });
    expect(rules.map((r) => [r.text, r.weight])).toEqual([
      ['shop:app=search', 90],
      ['shop:app=cart', 10],
      ['shop:app=front', 5],
    ]);
    expect(matchesSelector(rules[0]!.selector, { app: 'search' })).toBe(true);
    expect(matchesSelector(rules[0]!.selector, { app: 'cart' })).toBe(false);
  });

  it('a pod without the app label, or whose app has no traffic, has no traffic peers', () => {
    const m = new TrafficMatrix('app');
    m.add({ namespace: 'shop', app: 'a' }, { namespace: 'shop', app: 'b' }, 1);
    expect(m.rulesFor({ namespace: 'shop', name: 'x', labels: {}, annotations: {} })).toEqual([]);
    expect(m.rulesFor({ namespace: 'shop', name: 'x', labels: { app: 'c' }, annotations: {} })).toEqual([]);
    expect(m.rulesFor({ namespace: 'other', name: 'x', labels: { app: 'a' }, annotations: {} })).toEqual([]);
  });

  it('an app name that is no label value makes no rule', () => {
    const m = new TrafficMatrix('app');
    m.add({ namespace: 'shop', app: 'a' }, { namespace: 'shop', app: 'not a label!' }, 1);
    expect(m.rulesFor({ namespace: 'shop', name: 'x', labels: { app: 'a' }, annotations: {} })).toEqual([]);
  });
});
