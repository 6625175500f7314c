// How much the link emulator carries on this machine before its own timing errors pass 0.2 ms,
// and the warning `lab up` prints when a topology asks for more. The figure comes from the bench
// (`npm run bench`, part "emulator"): it writes it for this machine into the lab directory, and
// bench/results/latest.json holds the one measured on the reference machine.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { formatBandwidth } from '../../src/units.js';
import { labDir } from './state.js';

export interface EmulatorCapacity {
  /** Mbit/s one link carried with the emulator's lateness under 0.2 ms (and the rate kept). */
  mbps: number;
  /** The same for links loaded at once, all together (default: `mbps`). */
  concurrentMbps?: number;
  measuredAt: string;
  /** Where the figure comes from: this machine's bench run, or the repository's bench result. */
  source: string;
}

/** This machine's figure, written by the bench. */
export const capacityFile = (): string => join(labDir(), 'emulator-capacity.json');

function parse(text: string, source: string): EmulatorCapacity | undefined {
  const j = JSON.parse(text) as {
    mbps?: unknown;
    concurrentMbps?: unknown;
    measuredAt?: unknown;
    emulator?: { capacityMbps?: unknown; capacityOneLinkMbps?: unknown; capacityTwoLinksMbps?: unknown; measuredAt?: unknown };
  };
  const mbps = j.mbps ?? j.emulator?.capacityOneLinkMbps ?? j.emulator?.capacityMbps;
  const concurrent = j.concurrentMbps ?? j.emulator?.capacityTwoLinksMbps;
  const at = j.measuredAt ?? j.emulator?.measuredAt;
  if (typeof mbps !== 'number' || !(mbps > 0)) return undefined;
  return {
    mbps,
    ...(typeof concurrent === 'number' && concurrent > 0 ? { concurrentMbps: concurrent } : {}),
    measuredAt: typeof at === 'string' ? at : 'unknown',
    source,
  };
}

/** The measured capacity: this machine's if the bench ran here, else the repository's; undefined when neither exists. */
export async function readEmulatorCapacity(repoRoot?: string): Promise<EmulatorCapacity | undefined> {
  const candidates = [capacityFile(), ...(repoRoot ? [join(repoRoot, 'bench', 'results', 'latest.json')] : [])];
  for (const file of candidates) {
    try {
      const c = parse(await readFile(file, 'utf8'), file === capacityFile() ? 'measured on this machine' : 'bench/results/latest.json');
      if (c) return c;
    } catch {
      // absent or unreadable: try the next
    }
  }
  return undefined;
}

/**
 * What a topology asks of the emulator beyond its capacity: single links faster than it, and the
 * links one round of bandwidth tests can load at once (the agents test disjoint pairs, one
 * direction at a time: at most floor(N/2) links without a node in common). Unlimited links count as what they would carry
 * at full speed, i.e. beyond any capacity. Pure.
 */
export function capacityWarnings(
  links: ReadonlyArray<{ from: string; to: string; rate: number | null }>,
  nodes: number,
  capacity: EmulatorCapacity,
): string[] {
  const cap = capacity.mbps;
  const mbps = (rate: number | null) => (rate === null ? Infinity : (rate * 8) / 1e6);
  const out: string[] = [];
  const over = links.filter((l) => mbps(l.rate) > cap);
  const of = `the emulator's capacity of ${Math.round(cap)} Mbit/s (${capacity.source}, ${capacity.measuredAt})`;
  for (const l of over)
    out.push(
      `link ${l.from}->${l.to} (${l.rate === null ? 'unlimited' : formatBandwidth(l.rate)}) is faster than ${of}: a bandwidth test on it reads low, and delays grow while it carries traffic`,
    );
  // a round tests disjoint pairs: the fastest link, then the fastest between two other nodes, ...
  const concurrent: Array<(typeof links)[number]> = [];
  const busy = new Set<string>();
  for (const l of [...links].sort((a, b) => mbps(b.rate) - mbps(a.rate))) {
    if (concurrent.length === Math.floor(nodes / 2)) break;
    if (busy.has(l.from) || busy.has(l.to)) continue;
    concurrent.push(l);
    busy.add(l.from).add(l.to);
  }
  const sum = concurrent.reduce((s, l) => s + mbps(l.rate), 0);
  const together = capacity.concurrentMbps ?? cap;
  if (concurrent.length > 1 && sum > together && over.length < concurrent.length)
    out.push(
      `the ${concurrent.length} fastest links, which one round of bandwidth tests may load at once, need ${Number.isFinite(sum) ? `${Math.round(sum)} Mbit/s` : 'more than any rate'} together, ` +
        `more than the ${Math.round(together)} Mbit/s the emulator carries on links loaded at once (${capacity.source}, ${capacity.measuredAt}): tests in the same round read low and delay the other links`,
    );
  return out;
}
