// The last N scheduling decisions, for GET /api/v1/decisions: what was asked, what we answered and
// why (per node raw and final score, the peers and links that drove it, unknown/stale values,
// ignored annotations). A ring buffer: constant memory, oldest dropped first.

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
  passed?: number;
  nodes?: NodeDecision[];
}

/** Bounds on what one kept decision holds: its text comes from request bodies (annotations). */
export const MAX_WARNINGS = 20;
export const MAX_TEXT = 500;
/** Link explanation lines per node: one per peer node, so a pod with hundreds of peer nodes would
 *  otherwise make every kept decision hundreds of KB (keep × detailNodes × peer nodes lines). */
export const MAX_LINK_LINES = 12;

/** At most MAX_LINK_LINES explanation lines, and a line counting the others. */
export function clipLinks(lines: string[]): string[] {
  // (explainNode clips its lines the same way already: MAX_LINK_LINES and a count line)
  if (lines.length <= MAX_LINK_LINES + 1) return lines;
  return [...lines.slice(0, MAX_LINK_LINES), `... and ${lines.length - MAX_LINK_LINES} more peer nodes`];
}

/**
 * Gives `node` explanation lines that are made when first read (served, or looked at by a caller),
 * then kept. Formatting them is most of what a decision costs, and most decisions are never read.
 * `make` must hold values, not the link matrix: a kept decision must not keep an old matrix alive.
 */
export function lazyLinks(node: NodeDecision, make: () => string[]): void {
  let lines: string[] | undefined;
  Object.defineProperty(node, 'links', {
    enumerable: true,
    configurable: true,
    get: () => (lines ??= clipLinks(make())),
    set: (v: string[]) => {
      lines = v;
    },
  });
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

export class DecisionLog {
  private readonly buf: Decision[] = [];
  private next = 0;
  private seq = 0;

  constructor(readonly capacity: number) {}

  add(d: Omit<Decision, 'id'>): Decision {
    // a ring of `capacity` decisions is constant memory only if each one is bounded too
    const full = { id: ++this.seq, ...d, warnings: clipWarnings(d.warnings) } as Decision;
    if (full.reason !== undefined) full.reason = clip(full.reason);
    if (full.nodes)
      for (const n of full.nodes) {
        // lines given as they are (lazyLinks clips its own, when they are made)
        const given = Object.getOwnPropertyDescriptor(n, 'links');
        if (given && 'value' in given && Array.isArray(given.value)) n.links = clipLinks(given.value as string[]);
      }
    if (this.capacity <= 0) return full;
    if (this.buf.length < this.capacity) this.buf.push(full);
    else this.buf[this.next] = full;
    this.next = (this.next + 1) % this.capacity;
    return full;
  }

  /** Newest first, optionally only for one pod ("namespace/name") or verb. */
  list(opts: { limit?: number; pod?: string; verb?: string } = {}): Decision[] {
    const ordered = [...this.buf].sort((a, b) => b.id - a.id);
    return ordered
      .filter((d) => (!opts.pod || d.pod === opts.pod) && (!opts.verb || d.verb === opts.verb))
      .slice(0, opts.limit ?? ordered.length);
  }
}
