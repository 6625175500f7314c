// The last N scheduling decisions, for GET /api/v1/decisions: what was asked, what we answered and
// why (per node raw and final score, the peers and links that drove it, unknown/stale values,
// ignored annotations). Bounded three ways, because decisions carry text from request bodies
// (names, annotations) that anyone reaching the port can send: `capacity` decisions at most, each
// at most `maxDecisionBytes` (larger ones list fewer peers and nodes, and say so), all together at
// most `maxBytes` (the oldest go first). Sizes are the decision's JSON length (characters), with
// the explanation lines not made yet counted at their largest (MAX_LINE each).

export interface NodeDecision {
  node: string;
  raw: number;
  score: number;
  /** Filter only: why the node was removed. */
  filtered?: string;
  unknown: number;
  stale: number;
  /** Per peer node: what drove the score (present for the top `detailNodes` and filtered nodes). */
  links?: string[];
}

export interface Decision {
  id: number;
  /** ISO time. */
  time: string;
  verb: 'filter' | 'prioritize';
  pod: string;
  mode: 'nodeNames' | 'nodeList';
  outcome: 'scored' | 'neutral' | 'error';
  /** Why we had no opinion (neutral), or the error. */
  reason?: string;
  durationSeconds: number;
  candidates: number;
  limits?: string;
  peers?: Array<{ id: string; node: string; weight: number; via: string[]; weightFrom: string }>;
  unplacedPeers?: string[];
  warnings: string[];
  matrix?: { refreshedAt: number; links: number } | null;
  lookups?: { fresh: number; stale: number; unknown: number };
  /** Filter: nodes passing; prioritize: the node scored highest (recorded as the pod's placement). */
  chosen?: string | null;
  /** Whether `chosen` was recorded as the pod's assumed placement (only for a pending pod the pod store knows). */
  assumed?: boolean;
  passed?: number;
  nodes?: NodeDecision[];
}

/** Bounds on what one kept decision holds: its text comes from request bodies (annotations). */
export const MAX_WARNINGS = 20;
export const MAX_TEXT = 500;
/** Link explanation lines per node: one per peer node, so a pod with hundreds of peer nodes would
 *  otherwise make every kept decision hundreds of KB (keep × detailNodes × peer nodes lines). */
export const MAX_LINK_LINES = 12;
/** Characters of one explanation line. */
export const MAX_LINE = 400;
/** Peers and unplaced peers listed per decision. */
export const MAX_LISTED_PEERS = 200;
export const DEFAULT_MAX_BYTES = 32 * 1024 * 1024;
export const DEFAULT_MAX_DECISION_BYTES = 256 * 1024;

/** At most MAX_LINK_LINES explanation lines of at most MAX_LINE characters, and a line counting the others. */
export function clipLinks(lines: string[]): string[] {
  // (explainNode clips its lines the same way already: MAX_LINK_LINES and a count line)
  const clipped = lines.length <= MAX_LINK_LINES + 1 ? lines : [...lines.slice(0, MAX_LINK_LINES), `... and ${lines.length - MAX_LINK_LINES} more peer nodes`];
  return clipped.some((l) => l.length > MAX_LINE) ? clipped.map((l) => clip(l, MAX_LINE)) : clipped;
}

// the most lines a lazily made explanation can have, for sizing (a hidden property of the node)
const LINES_BOUND = Symbol('linesBound');
type LazyNode = NodeDecision & { [LINES_BOUND]?: number };

/**
 * Gives `node` explanation lines that are made when first read (served, or looked at by a caller),
 * then kept. Formatting them is most of what a decision costs, and most decisions are never read.
 * `make` must hold values, not the link matrix: a kept decision must not keep an old matrix alive.
 * `lines`: how many lines `make` returns at most (sizes the decision before they exist).
 */
export function lazyLinks(node: NodeDecision, make: () => string[], lines = MAX_LINK_LINES + 1): void {
  let made: string[] | undefined;
  Object.defineProperty(node, 'links', {
    enumerable: true,
    configurable: true,
    get: () => (made ??= clipLinks(make())),
    set: (v: string[]) => {
      made = v;
    },
  });
  (node as LazyNode)[LINES_BOUND] = Math.min(lines, MAX_LINK_LINES + 1);
}

/** "first 500 characters... (N more characters)". */
export function clip(text: string, max = MAX_TEXT): string {
  return text.length <= max ? text : `${text.slice(0, max)}... (${text.length - max} more characters)`;
}

/** At most MAX_WARNINGS warnings of at most MAX_TEXT characters each, and a count of the rest. */
export function clipWarnings(warnings: readonly string[]): string[] {
  const out = warnings.slice(0, MAX_WARNINGS).map((w) => clip(w));
  if (warnings.length > MAX_WARNINGS) out.push(`... and ${warnings.length - MAX_WARNINGS} more warnings`);
  return out;
}

// Per line of a lazily made explanation: MAX_LINE characters, clip()'s suffix, quotes and comma.
const LINE_BYTES = MAX_LINE + 40;

/** Explanation lines of a node as they are now: made (an array) or still lazy (undefined). */
function madeLinks(n: NodeDecision): string[] | undefined {
  const desc = Object.getOwnPropertyDescriptor(n, 'links');
  if (!desc) return [];
  if ('value' in desc) return Array.isArray(desc.value) ? (desc.value as string[]) : [];
  return undefined;
}

/** The decision's JSON length, counting explanation lines not made yet at their largest; reads no lazy lines. */
export function decisionBytes(d: Decision): number {
  let lazy = 0;
  const nodes = d.nodes?.map((n) => {
    const made = madeLinks(n);
    if (made === undefined) lazy += ((n as LazyNode)[LINES_BOUND] ?? MAX_LINK_LINES + 1) * LINE_BYTES + 12;
    const shallow: NodeDecision = { node: n.node, raw: n.raw, score: n.score, unknown: n.unknown, stale: n.stale };
    if (n.filtered !== undefined) shallow.filtered = n.filtered;
    if (made) shallow.links = made;
    return shallow;
  });
  return JSON.stringify(nodes ? { ...d, nodes } : d).length + lazy;
}

/** Makes `d` fit `max` bytes: fewer peers, fewer unplaced peers, fewer explained nodes, fewer nodes, fewer warnings. */
function fit(d: Decision, max: number): number {
  let size = decisionBytes(d);
  if (size <= max) return size;
  const total = { peers: d.peers?.length ?? 0, unplaced: d.unplacedPeers?.length ?? 0, nodes: d.nodes?.length ?? 0 };
  const steps: Array<() => boolean> = [
    () => !!d.peers?.length && ((d.peers = d.peers.slice(0, d.peers.length >> 1)), true),
    () => !!d.unplacedPeers?.length && ((d.unplacedPeers = d.unplacedPeers.slice(0, d.unplacedPeers.length >> 1)), true),
    () => {
      const explained = d.nodes?.filter((n) => madeLinks(n)?.length !== 0) ?? [];
      if (!explained.length) return false;
      for (const n of explained.slice(explained.length >> 1)) {
        Object.defineProperty(n, 'links', { value: [], enumerable: true, configurable: true, writable: true });
        delete (n as LazyNode)[LINES_BOUND];
      }
      return true;
    },
    () => !!d.nodes?.length && ((d.nodes = d.nodes.slice(0, d.nodes.length >> 1)), true),
    () => d.warnings.length > 1 && ((d.warnings = d.warnings.slice(0, d.warnings.length >> 1)), true),
    () => d.reason !== undefined && d.reason.length > 100 && ((d.reason = clip(d.reason, 100)), true),
  ];
  for (const step of steps) {
    while (size > max && step()) size = decisionBytes(d);
    if (size <= max) break;
  }
  d.warnings.push(
    `decision trimmed to decisions.maxDecisionBytes (${max}): lists ${d.peers?.length ?? 0} of ${total.peers} peers, ` +
      `${d.unplacedPeers?.length ?? 0} of ${total.unplaced} unplaced peers, ${d.nodes?.length ?? 0} of ${total.nodes} nodes`,
  );
  return decisionBytes(d);
}

export interface DecisionLogOptions {
  /** All kept decisions together at most this many bytes (JSON). */
  maxBytes?: number;
  /** One decision at most this many bytes (JSON). */
  maxDecisionBytes?: number;
}

interface Kept {
  d: Decision;
  bytes: number;
}

export class DecisionLog {
  /** Oldest first; `head` is the first kept (a queue without shifting). */
  private readonly buf: Kept[] = [];
  private head = 0;
  private seq = 0;
  private total = 0;
  readonly maxBytes: number;
  readonly maxDecisionBytes: number;

  constructor(
    readonly capacity: number,
    opts: DecisionLogOptions = {},
  ) {
    this.maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
    this.maxDecisionBytes = Math.min(opts.maxDecisionBytes ?? DEFAULT_MAX_DECISION_BYTES, this.maxBytes);
  }

  /** Decisions kept now, and their size in bytes (JSON). */
  get size(): { decisions: number; bytes: number } {
    return { decisions: this.buf.length - this.head, bytes: this.total };
  }

  add(d: Omit<Decision, 'id'>): Decision {
    // every kept decision is bounded, so the log is too: text clipped, lists capped, size fitted
    const full: Decision = { id: ++this.seq, ...d, pod: clip(d.pod, 320), warnings: clipWarnings(d.warnings) };
    if (full.reason !== undefined) full.reason = clip(full.reason);
    if (full.limits !== undefined) full.limits = clip(full.limits);
    if (full.peers && full.peers.length > MAX_LISTED_PEERS) full.peers = full.peers.slice(0, MAX_LISTED_PEERS);
    if (full.unplacedPeers && full.unplacedPeers.length > MAX_LISTED_PEERS) full.unplacedPeers = full.unplacedPeers.slice(0, MAX_LISTED_PEERS);
    if (full.nodes)
      for (const n of full.nodes) {
        // lines given as they are (lazyLinks clips its own, when they are made)
        const given = madeLinks(n);
        if (given?.length) n.links = clipLinks(given);
      }
    const bytes = fit(full, this.maxDecisionBytes);
    if (this.capacity <= 0) return full;
    this.buf.push({ d: full, bytes });
    this.total += bytes;
    while (this.buf.length - this.head > this.capacity || (this.total > this.maxBytes && this.buf.length - this.head > 1)) {
      this.total -= this.buf[this.head]!.bytes;
      this.buf[this.head++] = undefined as unknown as Kept;
    }
    if (this.head > 1024 && this.head * 2 > this.buf.length) {
      this.buf.splice(0, this.head);
      this.head = 0;
    }
    return full;
  }

  /** Newest first, optionally only for one pod ("namespace/name") or verb. */
  list(opts: { limit?: number; pod?: string; verb?: string } = {}): Decision[] {
    const out: Decision[] = [];
    const limit = opts.limit ?? Infinity;
    for (let i = this.buf.length - 1; i >= this.head && out.length < limit; i--) {
      const d = this.buf[i]!.d;
      if ((!opts.pod || d.pod === opts.pod) && (!opts.verb || d.verb === opts.verb)) out.push(d);
    }
    return out;
  }
}

/**
 * `{"decisions": [...]}` for GET /api/v1/decisions, at most `maxBytes` long: decisions past the
 * budget (or that cannot be serialised) are left out and `truncated` says how many. Never throws.
 */
export function serializeDecisions(list: readonly Decision[], maxBytes: number): string {
  const parts: string[] = [];
  let size = 32;
  let left = 0;
  for (const d of list) {
    let text: string;
    try {
      text = JSON.stringify(d);
    } catch {
      left++;
      continue;
    }
    if (size + text.length + 1 > maxBytes) {
      left++;
      continue;
    }
    parts.push(text);
    size += text.length + 1;
  }
  return `{"decisions":[${parts.join(',')}]${left ? `,"truncated":${left}` : ''}}`;
}
