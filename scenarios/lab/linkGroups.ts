// Which of the emulator's "lanes" serves which directed link. A lane is one
// receiving and one sending thread: a link carrying hundreds of Mbit/s keeps them busy, and every
// other link in the same lane waits behind it. So the fast links get lanes of their own, a link's
// reverse direction (a TCP test's ACKs) goes to another lane than its forward direction, and the
// slow links share two lanes, balanced by configured rate. Pure.

export interface GroupedLink {
  from: string;
  to: string;
  /** Configured rate, bytes/s; null = unlimited. */
  rate: number | null;
}

/** Most lanes the emulator starts (each is two threads with a JavaScript heap each). */
export const MAX_LANES = 8;
/** From this rate on (100 Mbit/s) a link counts as fast: it should not share a lane. */
export const FAST_LINK_BYTES_PER_SECOND = 12.5e6;
/** What an unlimited link is assumed to carry (1 Gbit/s). */
const UNLIMITED = 125e6;

const weight = (l: GroupedLink) => l.rate ?? UNLIMITED;

/** Lanes for the slow links (two, so that a slow link and its reverse can be apart). */
const SLOW_LANES = 2;

/** How many lanes: one per fast link and two for the slow ones, at most MAX_LANES. */
export function laneCount(links: readonly GroupedLink[]): number {
  if (links.length <= 1) return links.length;
  const fast = links.filter((l) => weight(l) >= FAST_LINK_BYTES_PER_SECOND).length;
  const slow = links.length - fast;
  return Math.min(links.length, MAX_LANES, fast + Math.min(slow, SLOW_LANES));
}

/**
 * The lane (0-based) of each link, in the order given. When every fast link can have a lane of
 * its own, it does, and the slow links share the remaining lanes; otherwise all links are spread
 * over the lanes by rate. A link never shares a lane with its reverse (when there are 2 lanes or more).
 */
export function assignLanes(links: readonly GroupedLink[], lanes = laneCount(links)): number[] {
  const out = new Array<number>(links.length).fill(0);
  if (lanes <= 1) return out;
  const fast = links.map((l, i) => i).filter((i) => weight(links[i]!) >= FAST_LINK_BYTES_PER_SECOND);
  const slow = links.map((l, i) => i).filter((i) => weight(links[i]!) < FAST_LINK_BYTES_PER_SECOND);
  if (fast.length > 0 && lanes - fast.length >= Math.min(slow.length, SLOW_LANES)) {
    fast.forEach((i, k) => (out[i] = k));
    const rest = spread(links, slow, lanes - fast.length);
    slow.forEach((i, k) => (out[i] = fast.length + rest[k]!));
    return out;
  }
  const all = spread(links, links.map((_, i) => i), lanes);
  all.forEach((lane, i) => (out[i] = lane));
  return out;
}

/** Greedy by rate, heaviest first, onto the least loaded lane that does not hold the link's reverse. */
function spread(links: readonly GroupedLink[], which: readonly number[], lanes: number): number[] {
  const out = new Array<number>(which.length).fill(0);
  if (lanes <= 1) return out;
  const load = new Array<number>(lanes).fill(0);
  const members: Array<Set<string>> = Array.from({ length: lanes }, () => new Set());
  const order = which.map((_, k) => k).sort((a, b) => weight(links[which[b]!]!) - weight(links[which[a]!]!) || a - b);
  for (const k of order) {
    const l = links[which[k]!]!;
    const reverse = `${l.to}\u0000${l.from}`;
    let best = -1;
    for (let lane = 0; lane < lanes; lane++) {
      if (members[lane]!.has(reverse)) continue;
      if (best < 0 || load[lane]! < load[best]!) best = lane;
    }
    if (best < 0) best = load.indexOf(Math.min(...load));
    out[k] = best;
    load[best] = load[best]! + weight(l);
    members[best]!.add(`${l.from}\u0000${l.to}`);
  }
  return out;
}
