// Who a pod's peers are, and how much each one matters. Resolved ONCE per scheduling request into
// a list of {peer, node, weight}; per-candidate work is then a lookup per distinct peer node.
//
// A pod P's peers are the other live pods Q (not Succeeded/Failed) such that
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
// {"SELECTOR": WEIGHT}. WEIGHT is a non-negative number or a rate such as "12MB/s" (bytes/s).
// A peer takes the weight of the first entry that matches it (P's entries first, then Q's entries
// that match P), else the traffic measured between their apps, else `defaultWeight` (1).
import { L2SM_NETWORKS_ANNOTATION, parseL2smNetworks, type L2smAttachment } from '../../src/l2sm.js';
import { contradictoryKey, matchesSelector, parseLabelSelector, type LabelSelector } from '../../src/labelSelector.js';
import { parseBandwidth } from '../../src/units.js';

export const PEERS_ANNOTATION = 'lpm.l2sm.io/peers';
export const PEER_WEIGHTS_ANNOTATION = 'lpm.l2sm.io/peer-weights';

/** What peer resolution needs of a pod (extender/podStore.ts PodInfo fits). */
export interface PodLike {
  namespace: string;
  name: string;
  uid?: string | undefined;
  labels: Readonly<Record<string, string>>;
  annotations: Readonly<Record<string, string>>;
  nodeName?: string | undefined;
  phase?: string | undefined;
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

export interface PeerOptions {
  /** Pods sharing an L2S-M network are peers (default true). */
  networks?: boolean;
  /** Networks that do not make pods peers ("name" or "namespace/name"). */
  ignoreNetworks?: readonly string[];
  /** Weight of a peer no rule gives a weight to. */
  defaultWeight?: number;
  /** Optional traffic source (PromQL bytes/s between apps): the pod's traffic peers as weighted selectors. */
  traffic?: (pod: PodLike) => readonly WeightRule[];
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
}

const DONE_PHASES = new Set(['Succeeded', 'Failed']);

// Annotation parses are memoised by text: every request re-reads every pod's annotations.
const MEMO_LIMIT = 10_000;
const selectorMemo = new Map<string, { selectors: PeerSelector[]; warnings: string[] }>();
const weightMemo = new Map<string, { rules: WeightRule[]; warnings: string[] }>();
const networkMemo = new Map<string, { networks: L2smAttachment[]; error?: string }>();

// Texts longer than this are parsed every time: real annotations are short, and a memo of 10k
// huge texts (from request bodies) would hold gigabytes.
const MEMO_MAX_KEY = 4096;

function memo<T>(map: Map<string, T>, key: string, make: () => T): T {
  if (key.length > MEMO_MAX_KEY) return make();
  let v = map.get(key);
  if (v === undefined) {
    if (map.size >= MEMO_LIMIT) map.clear();
    v = make();
    map.set(key, v);
  }
  return v;
}

function parseAlternative(text: string): PeerSelector {
  const t = text.trim();
  // label keys and values cannot contain ":", so a leading "ns:" is unambiguous
  const m = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?|\*)\s*:(.*)$/.exec(t);
  const sel = parseLabelSelector(m ? m[3]! : t);
  if (sel.requirements.length === 0) throw new Error(`"${t}": empty selector (it would select every pod)`);
  return m ? { text: t, namespace: m[1]!, selector: sel } : { text: t, selector: sel };
}

/** Parses `lpm.l2sm.io/peers`. Bad alternatives are dropped with a warning; the rest still count. */
export function parsePeerSelectors(value: string | undefined): { selectors: PeerSelector[]; warnings: string[] } {
  if (value === undefined || value.trim() === '') return { selectors: [], warnings: [] };
  return memo(selectorMemo, value, () => {
    const selectors: PeerSelector[] = [];
    const warnings: string[] = [];
    const add = (text: string, namespace?: string) => {
      try {
        const s = parseAlternative(text);
        if (namespace !== undefined) s.namespace = namespace;
        const bad = contradictoryKey(s.selector);
        if (bad !== undefined)
          warnings.push(
            `${PEERS_ANNOTATION}: "${s.text}" can never match (commas mean AND, and ${bad} cannot take two values); ` +
              `for either value write "${bad}=a;${bad}=b" or "${bad} in (a,b)"`,
          );
        selectors.push(s);
      } catch (err) {
        warnings.push(`${PEERS_ANNOTATION}: ignored ${(err as Error).message}`);
      }
    };
    const text = value.trim();
    if (text.startsWith('[')) {
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch (err) {
        return { selectors, warnings: [`${PEERS_ANNOTATION} ignored: invalid JSON: ${(err as Error).message}`] };
      }
      (json as unknown[]).forEach((item, i) => {
        if (typeof item === 'string') add(item);
        else if (item && typeof item === 'object' && typeof (item as { selector?: unknown }).selector === 'string') {
          const o = item as { selector: string; namespace?: unknown };
          add(o.selector, typeof o.namespace === 'string' ? o.namespace : undefined);
        } else warnings.push(`${PEERS_ANNOTATION}: ignored [${i}]: expected a string or {"selector": "..."}`);
      });
    } else {
      for (const alt of text.split(';')) if (alt.trim() !== '') add(alt);
    }
    return { selectors, warnings };
  });
}

function parseWeight(raw: unknown): number {
  if (typeof raw === 'number') {
    if (Number.isFinite(raw) && raw >= 0) return raw;
    throw new Error(`${raw} is not a non-negative weight`);
  }
  if (typeof raw !== 'string') throw new Error('weight must be a number');
  const s = raw.trim();
  if (/^\d+(\.\d+)?([eE][+-]?\d+)?$/.test(s)) return Number(s);
  return parseBandwidth(s); // "12MB/s": bytes per second, as NetMARKS' traffic weights
}

/** Parses `lpm.l2sm.io/peer-weights`. */
export function parsePeerWeights(value: string | undefined): { rules: WeightRule[]; warnings: string[] } {
  if (value === undefined || value.trim() === '') return { rules: [], warnings: [] };
  return memo(weightMemo, value, () => {
    const rules: WeightRule[] = [];
    const warnings: string[] = [];
    const add = (selText: string, weightRaw: unknown) => {
      try {
        rules.push({ ...parseAlternative(selText), weight: parseWeight(weightRaw) });
      } catch (err) {
        warnings.push(`${PEER_WEIGHTS_ANNOTATION}: ignored "${selText.trim()}": ${(err as Error).message}`);
      }
    };
    const text = value.trim();
    if (text.startsWith('{')) {
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch (err) {
        return { rules, warnings: [`${PEER_WEIGHTS_ANNOTATION} ignored: invalid JSON: ${(err as Error).message}`] };
      }
      for (const [sel, w] of Object.entries(json as Record<string, unknown>)) add(sel, w);
    } else {
      for (const entry of text.split(';')) {
        if (entry.trim() === '') continue;
        const at = entry.lastIndexOf(':');
        if (at < 0) warnings.push(`${PEER_WEIGHTS_ANNOTATION}: ignored "${entry.trim()}": expected "SELECTOR: WEIGHT"`);
        else add(entry.slice(0, at), entry.slice(at + 1));
      }
    }
    return { rules, warnings };
  });
}

function podNetworks(pod: PodLike): { networks: L2smAttachment[]; error?: string } {
  const value = pod.annotations[L2SM_NETWORKS_ANNOTATION];
  if (value === undefined) return { networks: [] };
  return memo(networkMemo, value, () => {
    const r = parseL2smNetworks(value);
    return r.ok ? { networks: r.value } : { networks: [], error: r.error };
  });
}

function networkKeys(pod: PodLike, ignore: ReadonlySet<string>): string[] {
  const keys: string[] = [];
  for (const n of podNetworks(pod).networks) {
    const ns = n.namespace ?? pod.namespace;
    if (ignore.has(n.name) || ignore.has(`${ns}/${n.name}`)) continue;
    keys.push(`${ns}/${n.name}`);
  }
  return keys;
}

function selects(sel: PeerSelector, ownerNamespace: string, target: PodLike): boolean {
  const ns = sel.namespace ?? ownerNamespace;
  if (ns !== '*' && ns !== target.namespace) return false;
  return matchesSelector(sel.selector, target.labels);
}

/**
 * Indexes over the pods a store knows (PodIndex / PodCache have them), so peer resolution looks
 * only at pods that can be peers instead of every pod in the cluster.
 */
export interface PeerIndex {
  /** Pods attached to the L2S-M network with this name (namespace prefix ignored). */
  podsOnNetwork(network: string): Iterable<PodLike>;
  /** Pods whose label `key` has exactly `value`. */
  podsWithLabel(key: string, value: string): Iterable<PodLike>;
  podsInNamespace(namespace: string): Iterable<PodLike>;
  /**
   * Pods whose `lpm.l2sm.io/peers` may select a pod with these labels (reverse peers): those with
   * a selector alternative whose `key in (...)`/`key=value` requirement the labels meet, plus
   * those with an alternative that has no such requirement.
   */
  peerDeclarersFor(labels: Readonly<Record<string, string>>): Iterable<PodLike>;
}

/**
 * The label index keys ("key=value") under which a pod declaring `lpm.l2sm.io/peers` is filed
 * for reverse lookups: one requirement `key in (...)` per alternative (any pod it selects has one
 * of those labels); null for an alternative without one (it must be checked against every pod).
 */
export function peerSelectorIndexKeys(value: string | undefined): Array<string | null> {
  const keys: Array<string | null> = [];
  for (const s of parsePeerSelectors(value).selectors) {
    const req = s.selector.requirements.find((r) => r.op === 'in');
    if (req && req.op === 'in') for (const v of req.values) keys.push(`${req.key}=${v}`);
    else keys.push(null);
  }
  return keys;
}

/** Does the store have every index peerCandidates needs? */
export function hasPeerIndex(store: Partial<PeerIndex>): store is PeerIndex {
  return (
    typeof store.podsOnNetwork === 'function' &&
    typeof store.podsWithLabel === 'function' &&
    typeof store.podsInNamespace === 'function' &&
    typeof store.peerDeclarersFor === 'function'
  );
}

/**
 * A superset of the pod's possible peers, from indexes: the members of its networks, the pods
 * its selectors can match (by one `key in (...)`/`key=value` requirement's label index, else its
 * namespace) and the pods whose own selectors may match it (the reverse direction). resolvePeers applies the
 * exact rules to these. undefined when a selector cannot be narrowed (e.g. `*:!key`): then only
 * a scan of every pod is right.
 */
export function peerCandidates(pod: PodLike, index: PeerIndex, opts: PeerOptions = {}): PodLike[] | undefined {
  const out = new Set<PodLike>();
  const addAll = (pods: Iterable<PodLike>) => {
    for (const q of pods) out.add(q);
  };
  if (opts.networks !== false) {
    const ignore = new Set(opts.ignoreNetworks ?? []);
    for (const key of networkKeys(pod, ignore)) addAll(index.podsOnNetwork(key.slice(key.indexOf('/') + 1)));
  }
  const traffic = opts.traffic?.(pod) ?? [];
  for (const s of [...parsePeerSelectors(pod.annotations[PEERS_ANNOTATION]).selectors, ...traffic]) {
    const req = s.selector.requirements.find((r) => r.op === 'in');
    if (req && req.op === 'in') for (const v of req.values) addAll(index.podsWithLabel(req.key, v));
    else if ((s.namespace ?? pod.namespace) !== '*') addAll(index.podsInNamespace(s.namespace ?? pod.namespace));
    else return undefined;
  }
  addAll(index.peerDeclarersFor(pod.labels));
  return [...out];
}

/** Finds the pod's peers among `pods` (which may include the pod itself; it is skipped). */
export function resolvePeers(pod: PodLike, pods: Iterable<PodLike>, opts: PeerOptions = {}): ResolvedPeers {
  const ignore = new Set(opts.ignoreNetworks ?? []);
  const defaultWeight = opts.defaultWeight ?? 1;
  const warnings: string[] = [];

  const own = opts.networks === false ? [] : networkKeys(pod, ignore);
  const ownNets = new Set(own);
  const netErr = podNetworks(pod).error;
  if (netErr) warnings.push(`${netErr} (network peers ignored)`);
  const { selectors, warnings: selWarn } = parsePeerSelectors(pod.annotations[PEERS_ANNOTATION]);
  const { rules, warnings: wWarn } = parsePeerWeights(pod.annotations[PEER_WEIGHTS_ANNOTATION]);
  warnings.push(...selWarn, ...wWarn);
  const traffic = opts.traffic?.(pod) ?? [];

  const peers: Peer[] = [];
  const unplaced: string[] = [];
  const weightByNode = new Map<string, number>();

  for (const q of pods) {
    if ((pod.uid && q.uid === pod.uid) || (q.namespace === pod.namespace && q.name === pod.name)) continue;
    if (q.phase && DONE_PHASES.has(q.phase)) continue;
    const via: string[] = [];
    if (ownNets.size > 0) for (const k of networkKeys(q, ignore)) if (ownNets.has(k)) via.push(`network ${k}`);
    for (const s of selectors) if (selects(s, pod.namespace, q)) via.push(`selector ${s.text}`);
    // reverse direction: q declared pod as its peer
    const qSel = q.annotations[PEERS_ANNOTATION];
    if (qSel !== undefined)
      for (const s of parsePeerSelectors(qSel).selectors)
        if (selects(s, q.namespace, pod)) via.push(`selected by its ${s.text}`);
    const measured = traffic.length ? traffic.find((r) => selects(r, pod.namespace, q)) : undefined;
    if (measured) via.push(`traffic ${measured.text}`);
    if (via.length === 0) continue;

    const id = `${q.namespace}/${q.name}`;
    if (!q.nodeName) {
      unplaced.push(id);
      continue;
    }
    let weight: number | undefined;
    let weightFrom = 'default';
    const rule = rules.find((r) => selects(r, pod.namespace, q));
    if (rule) {
      weight = rule.weight;
      weightFrom = `${PEER_WEIGHTS_ANNOTATION} ${rule.text}`;
    } else {
      const qw = q.annotations[PEER_WEIGHTS_ANNOTATION];
      const back = qw !== undefined ? parsePeerWeights(qw).rules.find((r) => selects(r, q.namespace, pod)) : undefined;
      if (back) {
        weight = back.weight;
        weightFrom = `its ${PEER_WEIGHTS_ANNOTATION} ${back.text}`;
      } else if (measured) {
        weight = measured.weight;
        weightFrom = `traffic ${measured.text}`;
      }
    }
    const w = weight ?? defaultWeight;
    peers.push({ id, node: q.nodeName, weight: w, via, weightFrom });
  }
  peers.sort((a, b) => a.id.localeCompare(b.id));
  // in peer order, not in the order `pods` came in: the same peers give the same map (and the
  // same floating-point sums) whether they were found by a scan or through indexes
  for (const p of peers) weightByNode.set(p.node, (weightByNode.get(p.node) ?? 0) + p.weight);
  unplaced.sort();
  return { peers, unplaced, weightByNode, warnings };
}
