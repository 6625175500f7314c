// Who a pod's peers are, and how much each one matters. Resolved ONCE per scheduling request into
// a list of {peer, node, weight}; per-candidate work is then a lookup per distinct peer node.
//
// A pod P's peers are the other live pods Q (not finished: src/kube/pod.ts) such that
//  1. P and Q share an L2S-M network (`l2sm/networks`, comma list or JSON list; a network is
//     identified by namespace/name, the namespace defaulting to the pod's own), except networks
//     listed in `ignoreNetworks` (lpm's own measurement network joins every agent);
//  2. or P's `lpm.l2sm.io/peers` selects Q;
//  3. or Q's `lpm.l2sm.io/peers` selects P (peering is symmetric: the backend scheduled after the
//     frontend should land near it too, although only the frontend wrote the annotation);
//  4. or the traffic source (optional: PromQL bytes/s between apps, trafficMatrix.ts) measured
//     traffic between P's app and Q's app.
//
// `lpm.l2sm.io/peers` syntax: selector alternatives separated by ";" (a pod matching ANY of them
// is a peer). Each alternative is a Kubernetes label selector (commas mean AND, as in kubectl -l),
// optionally prefixed with "NAMESPACE:" ("*:" = every namespace; default: the pod's namespace):
//     app=db; tier in (cache,queue); monitoring:app=prometheus
// or a JSON list of strings in that form, or of objects {"selector": "...", "namespace": "..."}.
//
// `lpm.l2sm.io/peer-weights`: traffic weights (NetMARKS weighs peers by measured bytes/s): entries
// "SELECTOR: WEIGHT" separated by ";" (the number after the LAST colon), or a JSON object
// {"SELECTOR": WEIGHT}. WEIGHT is a non-negative number or a rate such as "12MB/s" (bytes/s),
// clamped to MAX_PEER_WEIGHT. A peer takes the weight of the first entry that matches it (P's
// entries first, then Q's entries that match P), else the traffic measured between their apps,
// else `defaultWeight` (1).
//
// Annotations are untrusted input (anyone who may create a pod writes them), so (docs/security.md):
//  - cost: every annotation is capped (ANNOTATION_CAPS: bytes, alternatives, requirements, values
//    per in(), weight entries, networks); over a cap the whole annotation is ignored with a
//    warning (and the caller counts it and records an Event). Annotations are compiled once per
//    annotations object (a pod version in the store), never per request;
//  - influence: the PeeringPolicy decides what crosses namespaces. `forward` (P's own selectors
//    reach pods of other namespaces: moves only P) and `reverse` (Q's selectors or weights reach P
//    in another namespace: Q moves P) name the namespaces allowed to do so; by default neither is
//    allowed, and only shared L2S-M networks (`networks`) make pods of two namespaces peers, at the
//    default weight unless P itself weighs them. A selector reaching other namespaces needs a
//    positive requirement (key=value, key in (...), key), so it is found through an index;
//  - the reverse direction is found through an index (reverseIndexKeys / reverseLookupKeys):
//    a pod looks only at declarers whose selectors can match its namespace and labels, never at
//    every selector of every pod.
import { L2SM_NETWORKS_ANNOTATION, parseL2smNetworks } from '../../src/l2sm.js';
import { contradictoryKey, matchesSelector, parseLabelSelector, type LabelSelector, type Requirement } from '../../src/labelSelector.js';
import { parseBandwidth } from '../../src/units.js';
import { isFinishedPhase } from '../../src/kube/pod.js';
import type { PodIndexName, PodInfo } from '../pods/podStore.js';

export const PEERS_ANNOTATION = 'lpm.l2sm.io/peers';
export const PEER_WEIGHTS_ANNOTATION = 'lpm.l2sm.io/peer-weights';
export { L2SM_NETWORKS_ANNOTATION };

/**
 * What one pod's peer annotations may hold (docs/security.md, "Limits"). Over any of these the
 * whole annotation is ignored: a warning in the decision, `lpm_extender_annotation_caps_total`,
 * and an Event on the pod. Real annotations are a few dozen bytes with a handful of alternatives.
 */
export const ANNOTATION_CAPS = {
  /** Bytes of one annotation value (lpm.l2sm.io/peers, lpm.l2sm.io/peer-weights, l2sm/networks). */
  bytes: 4096,
  /** Selector alternatives in lpm.l2sm.io/peers. */
  alternatives: 32,
  /** Requirements (comma-separated) in one selector, in peers or peer-weights. */
  requirements: 16,
  /** Values in one `in (...)` / `notin (...)`. */
  values: 32,
  /** Entries in lpm.l2sm.io/peer-weights. */
  weights: 32,
  /** Networks in l2sm/networks. */
  networks: 16,
} as const;
export type AnnotationCap = keyof typeof ANNOTATION_CAPS;

/** Largest weight a peer can have (annotation, traffic or default): 1e12 bytes/s, far above any link. */
export const MAX_PEER_WEIGHT = 1e12;
/** Peers counted per pod; the rest are left out with a warning (peers.maxPeers). */
export const DEFAULT_MAX_PEERS = 5000;
/** Distinct peer nodes counted per pod (the heaviest); scoring costs candidates × peer nodes (peers.maxPeerNodes). */
export const DEFAULT_MAX_PEER_NODES = 256;
/** Reasons listed per peer (`via`), and the length of a selector quoted in one. */
const MAX_VIA = 4;
const VIA_TEXT = 120;

/** An annotation ignored for exceeding a cap. */
export interface CapHit {
  annotation: string;
  cap: AnnotationCap;
  message: string;
}

class CapExceeded extends Error {
  constructor(
    readonly cap: AnnotationCap,
    message: string,
  ) {
    super(message);
  }
}

export interface PeerSelector {
  /** The alternative as written. */
  text: string;
  /** Namespace the selector applies to; undefined = the pod's own; "*" = all. */
  namespace?: string;
  selector: LabelSelector;
}

export interface WeightRule extends PeerSelector {
  weight: number;
}

/**
 * What may cross namespaces (config `peers.crossNamespace`). A list names the namespaces whose
 * pods may do it; "*" = every namespace. Traffic rules (the operator's own Prometheus) are not
 * subject to it.
 */
export interface PeeringPolicy {
  /** P's own lpm.l2sm.io/peers may select pods in other namespaces (moves P only). */
  forward: readonly string[];
  /** Q's lpm.l2sm.io/peers / peer-weights may select and weigh P in another namespace (Q moves P). */
  reverse: readonly string[];
  /** A shared L2S-M network makes pods of different namespaces peers. */
  networks: boolean;
}

/** The default: same namespace only, plus L2S-M networks both pods joined. */
export const SAME_NAMESPACE_POLICY: PeeringPolicy = { forward: [], reverse: [], networks: true };

const allows = (list: readonly string[], namespace: string): boolean => list.includes('*') || list.includes(namespace);

export interface PeerOptions {
  /** Pods sharing an L2S-M network are peers (default true). */
  networks?: boolean;
  /** Networks that do not make pods peers ("name" or "namespace/name"). */
  ignoreNetworks?: readonly string[];
  /** Weight of a peer no rule gives a weight to. */
  defaultWeight?: number;
  /** Optional traffic source (PromQL bytes/s between apps): the pod's traffic peers as weighted selectors. */
  traffic?: (pod: PodInfo) => readonly WeightRule[];
  /** What may cross namespaces; default SAME_NAMESPACE_POLICY. */
  policy?: PeeringPolicy;
  /** Peers counted per pod (default DEFAULT_MAX_PEERS). */
  maxPeers?: number;
  /** Distinct peer nodes counted per pod (default DEFAULT_MAX_PEER_NODES). */
  maxPeerNodes?: number;
}

export interface Peer {
  /** "namespace/name". */
  id: string;
  node: string;
  weight: number;
  /** Why it is a peer: "network shop/shop-net", "selector app=db", "selected by its app=web". */
  via: string[];
  /** Where the weight came from. */
  weightFrom: string;
}

export interface ResolvedPeers {
  /** Placed peers (pods with a node). */
  peers: Peer[];
  /** Peers not placed yet ("namespace/name"): they cannot pull the pod anywhere. */
  unplaced: string[];
  /** Total weight per peer node: the only thing per-candidate scoring needs. */
  weightByNode: Map<string, number>;
  /** Annotations that were ignored, and why. */
  warnings: string[];
  /** The pod's own annotations ignored for exceeding a cap. */
  capHits?: CapHit[];
}

// ---- parsing (bounded: every text is capped before it is read) -------------------------------

function checkBytes(annotation: string, value: string): void {
  const max = ANNOTATION_CAPS.bytes;
  // bytes >= characters: a long text is over without counting its bytes exactly
  const bytes = value.length > 4 * max ? value.length : Buffer.byteLength(value);
  if (bytes > max)
    throw new CapExceeded('bytes', `${annotation} ignored: ${value.length > 4 * max ? 'over ' : ''}${bytes} bytes, over the cap of ${max}`);
}

function checkCount(annotation: string, cap: AnnotationCap, what: string, n: number): void {
  if (n > ANNOTATION_CAPS[cap]) throw new CapExceeded(cap, `${annotation} ignored: ${n} ${what}, over the cap of ${ANNOTATION_CAPS[cap]}`);
}

const clipText = (t: string, max = VIA_TEXT): string => (t.length <= max ? t : `${t.slice(0, max)}...`);

/** Is there a label every pod the selector matches must have (key=value, key in (...), key)? */
function positive(r: Requirement): boolean {
  return r.op === 'in' || r.op === 'exists';
}

/** A requirement set no labels can meet besides contradictoryKey's: `k` / `k=v` with `!k`, or `k in (a)` with `k notin (a)`. */
function impossibleKey(sel: LabelSelector): string | undefined {
  const req = new Map<string, Requirement[]>();
  for (const r of sel.requirements) req.set(r.key, [...(req.get(r.key) ?? []), r]);
  for (const [key, rs] of req) {
    if (rs.some((r) => r.op === '!exists') && rs.some(positive)) return key;
    const allowed = rs.filter((r) => r.op === 'in').flatMap((r) => (r.op === 'in' ? [new Set(r.values)] : []));
    const denied = new Set(rs.flatMap((r) => (r.op === 'notin' ? r.values : [])));
    if (allowed.length && [...allowed[0]!].every((v) => denied.has(v) || allowed.some((a) => !a.has(v)))) return key;
  }
  return contradictoryKey(sel);
}

function parseAlternative(annotation: string, text: string): PeerSelector {
  const t = text.trim();
  // label keys and values cannot contain ":", so a leading "ns:" is unambiguous
  const m = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?|\*)\s*:(.*)$/s.exec(t);
  const sel = parseLabelSelector(m ? m[3]! : t);
  if (sel.requirements.length === 0) throw new Error(`"${clipText(t)}": empty selector (it would select every pod)`);
  checkCount(annotation, 'requirements', `requirements in "${clipText(t, 60)}"`, sel.requirements.length);
  for (const r of sel.requirements)
    if (r.op === 'in' || r.op === 'notin') checkCount(annotation, 'values', `values in "${clipText(t, 60)}"`, r.values.length);
  return m ? { text: t, namespace: m[1]!, selector: sel } : { text: t, selector: sel };
}

const NAMESPACE_RE = /^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?|\*)$/;

export interface ParsedSelectors {
  selectors: PeerSelector[];
  warnings: string[];
  capHits: CapHit[];
}

/** Parses `lpm.l2sm.io/peers`. Bad alternatives are dropped with a warning; over a cap, all of it is ignored. */
export function parsePeerSelectors(value: string | undefined): ParsedSelectors {
  if (value === undefined || value.trim() === '') return { selectors: [], warnings: [], capHits: [] };
  const selectors: PeerSelector[] = [];
  const warnings: string[] = [];
  try {
    checkBytes(PEERS_ANNOTATION, value);
    const add = (text: string, namespace?: string) => {
      try {
        const s = parseAlternative(PEERS_ANNOTATION, text);
        if (namespace !== undefined) s.namespace = namespace;
        const bad = impossibleKey(s.selector);
        if (bad !== undefined)
          warnings.push(
            `${PEERS_ANNOTATION}: "${clipText(s.text)}" can never match (commas mean AND, and ${bad} cannot meet all its requirements); ` +
              `for either value write "${bad}=a;${bad}=b" or "${bad} in (a,b)"`,
          );
        else selectors.push(s);
      } catch (err) {
        if (err instanceof CapExceeded) throw err;
        warnings.push(`${PEERS_ANNOTATION}: ignored ${(err as Error).message}`);
      }
    };
    const text = value.trim();
    if (text.startsWith('[')) {
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch (err) {
        return { selectors, warnings: [`${PEERS_ANNOTATION} ignored: invalid JSON: ${(err as Error).message}`], capHits: [] };
      }
      if (!Array.isArray(json)) return { selectors, warnings: [`${PEERS_ANNOTATION} ignored: expected a JSON list`], capHits: [] };
      checkCount(PEERS_ANNOTATION, 'alternatives', 'alternatives', json.length);
      json.forEach((item: unknown, i) => {
        if (typeof item === 'string') add(item);
        else if (item && typeof item === 'object' && typeof (item as { selector?: unknown }).selector === 'string') {
          const o = item as { selector: string; namespace?: unknown };
          if (o.namespace !== undefined && (typeof o.namespace !== 'string' || !NAMESPACE_RE.test(o.namespace)))
            warnings.push(`${PEERS_ANNOTATION}: ignored [${i}]: "namespace" must be a namespace name or "*"`);
          else add(o.selector, o.namespace);
        } else warnings.push(`${PEERS_ANNOTATION}: ignored [${i}]: expected a string or {"selector": "..."}`);
      });
    } else {
      const alternatives = text.split(';').filter((alt) => alt.trim() !== '');
      checkCount(PEERS_ANNOTATION, 'alternatives', 'alternatives', alternatives.length);
      for (const alt of alternatives) add(alt);
    }
    return { selectors, warnings, capHits: [] };
  } catch (err) {
    if (!(err instanceof CapExceeded)) throw err;
    return { selectors: [], warnings: [err.message], capHits: [{ annotation: PEERS_ANNOTATION, cap: err.cap, message: err.message }] };
  }
}

/** A weight as written: a non-negative number or a rate (bytes/s); above MAX_PEER_WEIGHT it is clamped (`clamped`). */
function parseWeight(raw: unknown): { weight: number; clamped: boolean } {
  let w: number;
  if (typeof raw === 'number') w = raw;
  else if (typeof raw !== 'string') throw new Error('weight must be a number');
  else {
    const s = raw.trim();
    w = /^\d+(\.\d+)?([eE][+-]?\d+)?$/.test(s) ? Number(s) : parseBandwidth(s); // "12MB/s": bytes per second, as NetMARKS' traffic weights
  }
  if (Number.isNaN(w) || w < 0) throw new Error(`${String(raw)} is not a non-negative weight`);
  return w > MAX_PEER_WEIGHT ? { weight: MAX_PEER_WEIGHT, clamped: true } : { weight: w, clamped: false };
}

export interface ParsedWeights {
  rules: WeightRule[];
  warnings: string[];
  capHits: CapHit[];
}

/** Parses `lpm.l2sm.io/peer-weights`. */
export function parsePeerWeights(value: string | undefined): ParsedWeights {
  if (value === undefined || value.trim() === '') return { rules: [], warnings: [], capHits: [] };
  const rules: WeightRule[] = [];
  const warnings: string[] = [];
  try {
    checkBytes(PEER_WEIGHTS_ANNOTATION, value);
    const add = (selText: string, weightRaw: unknown) => {
      try {
        const { weight, clamped } = parseWeight(weightRaw);
        const rule = { ...parseAlternative(PEER_WEIGHTS_ANNOTATION, selText), weight };
        if (clamped) warnings.push(`${PEER_WEIGHTS_ANNOTATION}: "${clipText(rule.text)}": weight clamped to the maximum ${MAX_PEER_WEIGHT}`);
        rules.push(rule);
      } catch (err) {
        if (err instanceof CapExceeded) throw err;
        warnings.push(`${PEER_WEIGHTS_ANNOTATION}: ignored "${clipText(selText.trim())}": ${(err as Error).message}`);
      }
    };
    const text = value.trim();
    if (text.startsWith('{')) {
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch (err) {
        return { rules, warnings: [`${PEER_WEIGHTS_ANNOTATION} ignored: invalid JSON: ${(err as Error).message}`], capHits: [] };
      }
      if (json === null || typeof json !== 'object' || Array.isArray(json))
        return { rules, warnings: [`${PEER_WEIGHTS_ANNOTATION} ignored: expected a JSON object`], capHits: [] };
      const entries = Object.entries(json as Record<string, unknown>);
      checkCount(PEER_WEIGHTS_ANNOTATION, 'weights', 'entries', entries.length);
      for (const [sel, w] of entries) add(sel, w);
    } else {
      const entries = text.split(';').filter((e) => e.trim() !== '');
      checkCount(PEER_WEIGHTS_ANNOTATION, 'weights', 'entries', entries.length);
      for (const entry of entries) {
        const at = entry.lastIndexOf(':');
        if (at < 0) warnings.push(`${PEER_WEIGHTS_ANNOTATION}: ignored "${clipText(entry.trim())}": expected "SELECTOR: WEIGHT"`);
        else add(entry.slice(0, at), entry.slice(at + 1));
      }
    }
    return { rules, warnings, capHits: [] };
  } catch (err) {
    if (!(err instanceof CapExceeded)) throw err;
    return { rules: [], warnings: [err.message], capHits: [{ annotation: PEER_WEIGHTS_ANNOTATION, cap: err.cap, message: err.message }] };
  }
}

/** Parses `l2sm/networks` into "namespace/name" keys (the namespace defaulting to the pod's). */
export function parseNetworkKeys(value: string | undefined, namespace: string): { keys: string[]; warnings: string[]; capHits: CapHit[] } {
  if (value === undefined || value.trim() === '') return { keys: [], warnings: [], capHits: [] };
  try {
    checkBytes(L2SM_NETWORKS_ANNOTATION, value);
    const r = parseL2smNetworks(value);
    if (!r.ok) return { keys: [], warnings: [`${r.error} (network peers ignored)`], capHits: [] };
    checkCount(L2SM_NETWORKS_ANNOTATION, 'networks', 'networks', r.value.length);
    return { keys: [...new Set(r.value.map((n) => `${n.namespace ?? namespace}/${n.name}`))], warnings: [], capHits: [] };
  } catch (err) {
    if (!(err instanceof CapExceeded)) throw err;
    return { keys: [], warnings: [err.message], capHits: [{ annotation: L2SM_NETWORKS_ANNOTATION, cap: err.cap, message: err.message }] };
  }
}

/** A pod's peer annotations, parsed and capped: made once per annotations object (a pod version), not per request. */
export interface CompiledPeerAnnotations {
  readonly namespace: string;
  readonly selectors: readonly PeerSelector[];
  readonly weights: readonly WeightRule[];
  /** L2S-M networks joined, "namespace/name" (ignoreNetworks not applied). */
  readonly networks: readonly string[];
  readonly warnings: readonly string[];
  readonly capHits: readonly CapHit[];
}

const EMPTY: Omit<CompiledPeerAnnotations, 'namespace'> = { selectors: [], weights: [], networks: [], warnings: [], capHits: [] };
const compiledByAnnotations = new WeakMap<object, CompiledPeerAnnotations>();

/**
 * The pod's peer annotations, compiled. Cached by the annotations object: a pod in the store is
 * compiled once per version (each watch event brings a new object); treat annotations as immutable.
 */
export function compilePeerAnnotations(pod: Pick<PodInfo, 'namespace' | 'annotations'>): CompiledPeerAnnotations {
  const a = pod.annotations;
  const cached = compiledByAnnotations.get(a);
  if (cached && cached.namespace === pod.namespace) return cached;
  const p = a[PEERS_ANNOTATION];
  const w = a[PEER_WEIGHTS_ANNOTATION];
  const n = a[L2SM_NETWORKS_ANNOTATION];
  let c: CompiledPeerAnnotations;
  if (p === undefined && w === undefined && n === undefined) c = { namespace: pod.namespace, ...EMPTY };
  else {
    const s = parsePeerSelectors(p);
    const r = parsePeerWeights(w);
    const k = parseNetworkKeys(n, pod.namespace);
    c = {
      namespace: pod.namespace,
      selectors: s.selectors,
      weights: r.rules,
      networks: k.keys,
      warnings: [...k.warnings, ...s.warnings, ...r.warnings],
      capHits: [...k.capHits, ...s.capHits, ...r.capHits],
    };
  }
  compiledByAnnotations.set(a, c);
  return c;
}

/**
 * `pod` with the annotations object of the store's copy of it, when the store knows the same pod
 * (same uid) with the same annotations: its compiled form is then reused instead of parsing the
 * request's copy again.
 */
export function withKnownAnnotations(pod: PodInfo, known: PodInfo | undefined): PodInfo {
  if (!known || known.annotations === pod.annotations || !pod.uid || known.uid !== pod.uid) return pod;
  const a = pod.annotations;
  const b = known.annotations;
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return pod;
  for (const k of keys) if (a[k] !== b[k]) return pod;
  return { ...pod, annotations: b };
}

function networkKeys(c: CompiledPeerAnnotations, ignore: ReadonlySet<string>): readonly string[] {
  if (ignore.size === 0 || c.networks.length === 0) return c.networks;
  return c.networks.filter((key) => !ignore.has(key) && !ignore.has(key.slice(key.indexOf('/') + 1)));
}

function selects(sel: PeerSelector, ownerNamespace: string, target: PodInfo): boolean {
  const ns = sel.namespace ?? ownerNamespace;
  if (ns !== '*' && ns !== target.namespace) return false;
  return matchesSelector(sel.selector, target.labels);
}

/** P's own selectors with the namespace each may reach under the policy ('*' or one namespace). */
interface Forward {
  sel: PeerSelector;
  namespace: string;
}

function forwardSelectors(pod: PodInfo, c: CompiledPeerAnnotations, policy: PeeringPolicy): { list: Forward[]; warnings: string[] } {
  const list: Forward[] = [];
  const warnings: string[] = [];
  const cross = allows(policy.forward, pod.namespace);
  for (const s of c.selectors) {
    const declared = s.namespace ?? pod.namespace;
    if (declared === pod.namespace) {
      list.push({ sel: s, namespace: declared });
      continue;
    }
    const pos = s.selector.requirements.some(positive);
    if (cross && pos) list.push({ sel: s, namespace: declared });
    else if (declared === '*') {
      list.push({ sel: s, namespace: pod.namespace });
      warnings.push(
        `${PEERS_ANNOTATION}: "${clipText(s.text)}" selects in the pod's own namespace only (${cross ? 'a selector reaching other namespaces needs key=value, key in (...) or key' : 'peers.crossNamespace.forward does not allow other namespaces'})`,
      );
    } else
      warnings.push(
        `${PEERS_ANNOTATION}: ignored "${clipText(s.text)}": ${cross ? 'a selector reaching other namespaces needs key=value, key in (...) or key' : `namespace ${declared} is not the pod's own, and peers.crossNamespace.forward does not allow it`}`,
      );
  }
  return { list, warnings };
}

/** Does Q's selector (or weight rule) `s` reach P under the policy? */
function reverseSelects(s: PeerSelector, q: PodInfo, p: PodInfo, policy: PeeringPolicy): boolean {
  const declared = s.namespace ?? q.namespace;
  if (p.namespace === q.namespace) {
    if (declared !== q.namespace && declared !== '*') return false;
  } else {
    if (declared !== '*' && declared !== p.namespace) return false;
    if (!allows(policy.reverse, q.namespace) || !s.selector.requirements.some(positive)) return false;
  }
  return matchesSelector(s.selector, p.labels);
}

// ---- indexes ---------------------------------------------------------------------------------

/**
 * The keys of the pod store's indexes (PodIndex files every pod under them). "|" and "=" appear
 * in no label key, namespace or network name, "/" in no network name, so the forms cannot clash:
 *   label:     "key=value", "key" (any value), "NS|key=value", "NS|key" (within namespace NS)
 *   network:   "name" (any namespace), "NS/name" (exactly that network)
 *   namespace: "NS"
 *   peerSelector: reverseIndexKeys
 */
export const indexKey = {
  label: (key: string, value: string, namespace?: string): string => `${namespace === undefined ? '' : `${namespace}|`}${key}=${value}`,
  labelKey: (key: string, namespace?: string): string => `${namespace === undefined ? '' : `${namespace}|`}${key}`,
  network: (name: string, namespace?: string): string => (namespace === undefined ? name : `${namespace}/${name}`),
};

/** One index bucket peer resolution reads. */
export interface IndexLookup {
  index: PodIndexName;
  key: string;
}

/**
 * Indexes over the pods a store knows (every PodStore has them), so peer resolution looks only at
 * pods that can be peers instead of every pod in the cluster.
 */
export interface PeerIndex {
  /** The pods filed under `key` in one index (keys: indexKey, reverseIndexKeys). */
  lookup(index: PodIndexName, key: string): Iterable<PodInfo>;
  /** Pods attached to the L2S-M network with this name; with `namespace`, exactly the network namespace/name. */
  podsOnNetwork(network: string, namespace?: string): Iterable<PodInfo>;
  /** Pods whose label `key` has exactly `value` (in `namespace`, when given). */
  podsWithLabel(key: string, value: string, namespace?: string): Iterable<PodInfo>;
  /** Pods with the label `key`, whatever its value (in `namespace`, when given). */
  podsWithLabelKey(key: string, namespace?: string): Iterable<PodInfo>;
  podsInNamespace(namespace: string): Iterable<PodInfo>;
  /**
   * Pods whose `lpm.l2sm.io/peers` may select `target` (reverse peers): the pods filed under one
   * of reverseLookupKeys(target, crossFrom). A superset; resolvePeers applies the rules.
   */
  peerDeclarersFor(target: Pick<PodInfo, 'namespace' | 'labels'>, crossFrom?: readonly string[]): Iterable<PodInfo>;
}

/** The label index key of one selector: its `in` requirement with the fewest values, else its first `key`, else none. */
function indexKinds(sel: LabelSelector): string[] {
  let best: Requirement | undefined;
  for (const r of sel.requirements)
    if (r.op === 'in' && (best?.op !== 'in' || r.values.length < best.values.length)) best = r;
    else if (r.op === 'exists' && !best) best = r;
  if (best?.op === 'in') return best.values.map((v) => `in|${best.key}=${v}`);
  if (best?.op === 'exists') return [`ex|${best.key}`];
  return ['neg'];
}

/**
 * The reverse-index keys under which a pod declaring `lpm.l2sm.io/peers` is filed: per selector,
 * by the namespace it can reach and by one label every pod it selects must have (`in|k=v`,
 * `ex|k`; `neg` for a same-namespace selector with no positive requirement):
 *   own|NS|kind           selectors within the pod's own namespace (NS) or "*"
 *   x|TARGET|NS|kind      selectors reaching TARGET (another namespace, or "*") from NS
 *   x|TARGET||kind        the same, for "any declaring namespace" lookups
 * A pod is looked up (reverseLookupKeys) only under its own namespace, and under other namespaces
 * only as far as the policy lets them reach it: other namespaces' selectors cost it nothing.
 */
export function reverseIndexKeys(pod: Pick<PodInfo, 'namespace' | 'annotations'>): string[] {
  const c = compilePeerAnnotations(pod);
  if (c.selectors.length === 0) return [];
  const keys = new Set<string>();
  for (const s of c.selectors) {
    const declared = s.namespace ?? pod.namespace;
    const kinds = indexKinds(s.selector);
    if (declared === pod.namespace || declared === '*') for (const k of kinds) keys.add(`own|${pod.namespace}|${k}`);
    if (declared !== pod.namespace && kinds[0] !== 'neg')
      for (const k of kinds) {
        keys.add(`x|${declared}|${pod.namespace}|${k}`);
        keys.add(`x|${declared}||${k}`);
      }
  }
  return [...keys];
}

/** The reverse-index keys to look `target` up under, with `crossFrom` the namespaces allowed to reach across ("*": all). */
export function reverseLookupKeys(target: Pick<PodInfo, 'namespace' | 'labels'>, crossFrom: readonly string[] = []): string[] {
  const ns = target.namespace;
  const positives: string[] = [];
  for (const [k, v] of Object.entries(target.labels)) positives.push(`in|${k}=${v}`, `ex|${k}`);
  const keys = [`own|${ns}|neg`, ...positives.map((k) => `own|${ns}|${k}`)];
  const from = crossFrom.includes('*') ? [''] : crossFrom.filter((f) => f !== ns);
  for (const f of from) for (const t of [ns, '*']) for (const k of positives) keys.push(`x|${t}|${f}|${k}`);
  return keys;
}

/**
 * The index buckets that hold a superset of the pod's possible peers: the members of its
 * networks, the pods its selectors (and traffic rules) can match, by the label index of one
 * positive requirement within the namespace they reach (else that namespace), and the pods whose
 * own selectors may match it (the reverse direction, reverseLookupKeys). Everything
 * peerCandidates reads, so a cache of its result can watch exactly these (PodIndex.bucketVersion).
 */
export function peerLookups(pod: PodInfo, opts: PeerOptions = {}): IndexLookup[] {
  const policy = opts.policy ?? SAME_NAMESPACE_POLICY;
  const c = compilePeerAnnotations(pod);
  const out: IndexLookup[] = [];
  if (opts.networks !== false) {
    const ignore = new Set(opts.ignoreNetworks ?? []);
    for (const key of networkKeys(c, ignore)) out.push({ index: 'network', key });
  }
  const byLabels = (sel: LabelSelector, namespace: string) => {
    const ns = namespace === '*' ? undefined : namespace;
    const kinds = indexKinds(sel);
    if (kinds[0] === 'neg') {
      if (ns !== undefined) out.push({ index: 'namespace', key: ns });
      return;
    }
    for (const k of kinds) {
      if (k.startsWith('ex|')) out.push({ index: 'label', key: indexKey.labelKey(k.slice(3), ns) });
      else {
        const kv = k.slice(3);
        const at = kv.indexOf('=');
        out.push({ index: 'label', key: indexKey.label(kv.slice(0, at), kv.slice(at + 1), ns) });
      }
    }
  };
  for (const f of forwardSelectors(pod, c, policy).list) byLabels(f.sel.selector, f.namespace);
  for (const r of opts.traffic?.(pod) ?? []) byLabels(r.selector, r.namespace ?? pod.namespace);
  for (const key of reverseLookupKeys(pod, policy.reverse)) out.push({ index: 'peerSelector', key });
  return out;
}

/** The pods in peerLookups' buckets, each once: resolvePeers applies the exact rules to these. */
export function peerCandidates(pod: PodInfo, index: PeerIndex, opts: PeerOptions = {}): PodInfo[] {
  const out = new Set<PodInfo>();
  for (const l of peerLookups(pod, opts)) for (const q of index.lookup(l.index, l.key)) out.add(q);
  return [...out];
}

// ---- resolution ------------------------------------------------------------------------------

const clampWeight = (w: number): number => (w > 0 ? Math.min(w, MAX_PEER_WEIGHT) : 0);

/** Finds the pod's peers among `pods` (which may include the pod itself; it is skipped). */
export function resolvePeers(pod: PodInfo, pods: Iterable<PodInfo>, opts: PeerOptions = {}): ResolvedPeers {
  const ignore = new Set(opts.ignoreNetworks ?? []);
  const policy = opts.policy ?? SAME_NAMESPACE_POLICY;
  const defaultWeight = clampWeight(opts.defaultWeight ?? 1);
  const maxPeers = opts.maxPeers ?? DEFAULT_MAX_PEERS;
  const maxPeerNodes = opts.maxPeerNodes ?? DEFAULT_MAX_PEER_NODES;
  const c = compilePeerAnnotations(pod);
  const forward = forwardSelectors(pod, c, policy);
  const warnings: string[] = [...c.warnings, ...forward.warnings];

  const ownNets = new Set(opts.networks === false ? [] : networkKeys(c, ignore));
  const rules = c.weights;
  const traffic = opts.traffic?.(pod) ?? [];

  const peers: Peer[] = [];
  const unplaced: string[] = [];
  let unplacedMore = 0;
  let truncated = false;

  for (const q of pods) {
    if ((pod.uid && q.uid === pod.uid) || (q.namespace === pod.namespace && q.name === pod.name)) continue;
    if (isFinishedPhase(q.phase)) continue;
    const qc = compilePeerAnnotations(q);
    const via: string[] = [];
    let more = 0;
    const why = (reason: string) => {
      if (via.length < MAX_VIA) via.push(reason);
      else more++;
    };
    if (ownNets.size > 0 && (policy.networks || q.namespace === pod.namespace))
      for (const k of networkKeys(qc, ignore)) if (ownNets.has(k)) why(`network ${k}`);
    for (const f of forward.list)
      if ((f.namespace === '*' || f.namespace === q.namespace) && matchesSelector(f.sel.selector, q.labels)) why(`selector ${clipText(f.sel.text)}`);
    // reverse direction: q declared pod as its peer
    for (const s of qc.selectors) if (reverseSelects(s, q, pod, policy)) why(`selected by its ${clipText(s.text)}`);
    const measured = traffic.length ? traffic.find((r) => selects(r, pod.namespace, q)) : undefined;
    if (measured) why(`traffic ${measured.text}`);
    if (via.length === 0) continue;
    if (more) via.push(`and ${more} more`);

    const id = `${q.namespace}/${q.name}`;
    if (!q.nodeName) {
      if (unplaced.length < maxPeers) unplaced.push(id);
      else unplacedMore++;
      continue;
    }
    let weight: number | undefined;
    let weightFrom = 'default';
    const rule = rules.find((r) => selects(r, pod.namespace, q));
    if (rule) {
      weight = rule.weight;
      weightFrom = `${PEER_WEIGHTS_ANNOTATION} ${clipText(rule.text)}`;
    } else {
      // q's weights move pod only where q's selectors may (same namespace, or policy.reverse)
      const back = qc.weights.length ? qc.weights.find((r) => reverseSelects(r, q, pod, policy)) : undefined;
      if (back) {
        weight = back.weight;
        weightFrom = `its ${PEER_WEIGHTS_ANNOTATION} ${clipText(back.text)}`;
      } else if (measured) {
        weight = measured.weight;
        weightFrom = `traffic ${measured.text}`;
      }
    }
    peers.push({ id, node: q.nodeName, weight: weight === undefined ? defaultWeight : clampWeight(weight), via, weightFrom });
    if (peers.length >= maxPeers) {
      truncated = true;
      break;
    }
  }
  if (truncated) warnings.push(`more than ${maxPeers} peers: only the first ${maxPeers} found count (peers.maxPeers)`);
  if (unplacedMore) warnings.push(`${unplacedMore} more unplaced peers not listed`);
  // byte order: ids are Kubernetes names (ASCII), and localeCompare costs a collator per call
  peers.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  // in peer order, not in the order `pods` came in: the same peers give the same map (and the
  // same floating-point sums) whether they were found by a scan or through indexes
  let weightByNode = new Map<string, number>();
  for (const p of peers) weightByNode.set(p.node, (weightByNode.get(p.node) ?? 0) + p.weight);
  if (weightByNode.size > maxPeerNodes) {
    const kept = [...weightByNode].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, maxPeerNodes);
    const keep = new Set(kept.map(([n]) => n));
    warnings.push(`peers on ${weightByNode.size} nodes: only the ${maxPeerNodes} with the most weight count (peers.maxPeerNodes)`);
    weightByNode = new Map([...weightByNode].filter(([n]) => keep.has(n)));
  }
  unplaced.sort();
  const out: ResolvedPeers = { peers, unplaced, weightByNode, warnings };
  if (c.capHits.length) out.capHits = [...c.capHits];
  return out;
}
