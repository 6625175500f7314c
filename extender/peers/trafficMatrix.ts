// Measured traffic between apps (bytes/s), as NetMARKS reads it from Istio, turned into peer rules:
// a pod of app A has as peers the pods of every app B that A exchanges traffic with, each weighted
// by the bytes/s of A<->B (both directions added). Built from one PromQL answer per refresh
// (extender/sources/traffic.ts); read, without I/O, during peer resolution.
import { parseLabelSelector } from '../../src/labelSelector.js';
import type { WeightRule } from './peerAnnotations.js';
import type { PodInfo } from '../pods/podStore.js';
import { sampleNumber, type VectorSample } from '../sources/prometheusResponse.js';

/**
 * Istio's standard metrics: request and response bytes of every call, by source and destination
 * app and namespace, summed per app pair: bytes/s both ways. rate() drops the metric name, so
 * each side gets a `direction` label first; without it `or` would keep only one of the two.
 */
export const DEFAULT_TRAFFIC_QUERY =
  'sum by (source_workload_namespace, source_app, destination_workload_namespace, destination_app) (' +
  'label_replace(rate(istio_request_bytes_sum[5m]), "direction", "request", "", "") or ' +
  'label_replace(rate(istio_response_bytes_sum[5m]), "direction", "response", "", ""))';

/** Which sample labels name the two apps (and their namespaces), and which pod label names a pod's app. */
export interface TrafficLabels {
  sourceApp: string;
  targetApp: string;
  /** '' when the query has no namespace labels: an app is then the same app in every namespace. */
  sourceNamespace: string;
  targetNamespace: string;
  /** Pod label whose value is the app name in the samples (Istio: `app`). */
  podLabel: string;
}

export const DEFAULT_TRAFFIC_LABELS: TrafficLabels = {
  sourceApp: 'source_app',
  targetApp: 'destination_app',
  sourceNamespace: 'source_workload_namespace',
  targetNamespace: 'destination_workload_namespace',
  podLabel: 'app',
};

// "namespace/app", or "*/app" when the samples carry no namespace
const appKey = (namespace: string | undefined, app: string) => `${namespace || '*'}/${app}`;

export class TrafficMatrix {
  /** app key -> peer app key -> bytes/s (both directions added). */
  private readonly pairs = new Map<string, Map<string, number>>();
  private readonly rulesMemo = new Map<string, WeightRule[]>();

  constructor(
    readonly podLabel: string,
    /** Unix seconds the answer was read at. */
    readonly builtAt: number = Date.now() / 1000,
  ) {}

  /** Adds traffic from app `a` to app `b` (and so between them, whichever direction it flowed). */
  add(a: { namespace?: string; app: string }, b: { namespace?: string; app: string }, bytesPerSecond: number): void {
    if (!(bytesPerSecond > 0) || !Number.isFinite(bytesPerSecond)) return;
    const ka = appKey(a.namespace, a.app);
    const kb = appKey(b.namespace, b.app);
    this.bump(ka, kb, bytesPerSecond);
    if (ka !== kb) this.bump(kb, ka, bytesPerSecond);
    this.rulesMemo.clear();
  }

  private bump(from: string, to: string, v: number): void {
    let row = this.pairs.get(from);
    if (!row) this.pairs.set(from, (row = new Map<string, number>()));
    row.set(to, (row.get(to) ?? 0) + v);
  }

  /** Bytes/s between two apps (0 when none was measured). */
  between(a: { namespace?: string; app: string }, b: { namespace?: string; app: string }): number {
    return this.pairs.get(appKey(a.namespace, a.app))?.get(appKey(b.namespace, b.app)) ?? 0;
  }

  /** App pairs with traffic (each unordered pair once). */
  get size(): number {
    let n = 0;
    for (const [a, row] of this.pairs) for (const b of row.keys()) if (a <= b) n++;
    return n;
  }

  /**
   * The pod's traffic peers as weight rules: one selector `podLabel=B` per app B its app talks to,
   * in B's namespace ("*" when the samples have none), weighted by the bytes/s between them.
   */
  rulesFor(pod: PodInfo): readonly WeightRule[] {
    const app = pod.labels[this.podLabel];
    if (app === undefined) return [];
    const memoKey = `${pod.namespace}/${app}`;
    let rules = this.rulesMemo.get(memoKey);
    if (rules) return rules;
    rules = [];
    for (const key of new Set([appKey(pod.namespace, app), appKey(undefined, app)]))
      for (const [peerKey, weight] of this.pairs.get(key) ?? []) {
        const at = peerKey.indexOf('/');
        const namespace = peerKey.slice(0, at);
        const peerApp = peerKey.slice(at + 1);
        try {
          const selector = parseLabelSelector(`${this.podLabel}=${peerApp}`);
          rules.push({ text: `${namespace}:${this.podLabel}=${peerApp}`, namespace, selector, weight });
        } catch {
          // an app name that is no label value cannot name pods: no rule
        }
      }
    rules.sort((a, b) => b.weight - a.weight || (a.text < b.text ? -1 : 1));
    this.rulesMemo.set(memoKey, rules);
    return rules;
  }

  toJSON(): { builtAt: number; podLabel: string; pairs: Array<{ a: string; b: string; bytesPerSecond: number }> } {
    const pairs: Array<{ a: string; b: string; bytesPerSecond: number }> = [];
    for (const [a, row] of this.pairs) for (const [b, v] of row) if (a <= b) pairs.push({ a, b, bytesPerSecond: v });
    pairs.sort((x, y) => y.bytesPerSecond - x.bytesPerSecond || (x.a + x.b < y.a + y.b ? -1 : 1));
    return { builtAt: this.builtAt, podLabel: this.podLabel, pairs };
  }
}

/** The traffic matrix of one answer; samples without both app labels or with no finite positive value are skipped. */
export function trafficFromSamples(samples: readonly VectorSample[], labels: TrafficLabels, builtAt?: number): TrafficMatrix {
  const m = new TrafficMatrix(labels.podLabel, builtAt);
  for (const s of samples) {
    const a = s.metric[labels.sourceApp];
    const b = s.metric[labels.targetApp];
    if (!a || !b) continue;
    const ns = (label: string) => (label ? s.metric[label] || undefined : undefined);
    m.add({ namespace: ns(labels.sourceNamespace), app: a }, { namespace: ns(labels.targetNamespace), app: b }, sampleNumber(s));
  }
  return m;
}
