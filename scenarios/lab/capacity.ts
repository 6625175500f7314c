// How much the link emulator carries on this machine before its own timing errors pass 0.2 ms,
// and the warning `lab up` prints when a topology asks for more. The figure comes from the bench
// (`npm run bench`, part "emulator"): it writes it for this machine into the lab directory, and
// bench/results/latest.json holds the one measured on the reference machine.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { formatBandwidth } from '../../src/units.js';
import { labDir } from './state.js';

export interface EmulatorCapacity {
  /** Aggregate Mbit/s (all links together) at which lateness stayed under 0.2 ms. */
  mbps: number;
  measuredAt: string;
  /** Where the figure comes from: this machine's bench run, or the repository's bench result. */
  source: string;
}

/** This machine's figure, written by the bench. */
export const capacityFile = (): string => join(labDir(), 'emulator-capacity.json');

function parse(text: string, source: string): EmulatorCapacity | undefined {
  const j = JSON.parse(text) as { mbps?: unknown; measuredAt?: unknown; emulator?: { capacityMbps?: unknown; measuredAt?: unknown } };
  const mbps = j.mbps ?? j.emulator?.capacityMbps;
  const at = j.measuredAt ?? j.emulator?.measuredAt;
  return typeof mbps === 'number' && mbps > 0 ? { mbps, measuredAt: typeof at === 'string' ? at : 'unknown', source } : undefined;
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
 * links one round of bandwidth tests can load at once (the agents test disjoint pairs, so at most
 * one link per two nodes: the fastest floor(N/2)). Unlimited links count as what they would carry
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
  const concurrent = [...links].sort((a, b) => mbps(b.rate) - mbps(a.rate)).slice(0, Math.floor(nodes / 2));
  const sum = concurrent.reduce((s, l) => s + mbps(l.rate), 0);
  if (concurrent.length > 1 && sum > cap && over.length < concurrent.length)
    out.push(
      `the ${concurrent.length} fastest links, which one round of bandwidth tests may load at once, need ${Number.isFinite(sum) ? `${Math.round(sum)} Mbit/s` : 'more than any rate'} together, ` +
        `more than ${of}: tests in the same round read low and delay the other links`,
    );
  return out;
}
