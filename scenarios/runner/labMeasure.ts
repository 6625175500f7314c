// Lab mode's measurement gates: wait until the agents have measured every link once (before
// placing), and until they have re-measured a link after `lab set` changed it (after an event).
import { DirectSource } from '../../extender/sources/direct.js';
import type { LinkMatrix } from '../../src/linkMatrix.js';
import type { LinkMetricKey } from '../../src/linkMetrics.js';
import { agentTargets } from '../lab/agents.js';
import type { LabPlan } from '../lab/plan.js';
import type { Progress } from './placementRun.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Directed pairs the agents measure (both directions linked). */
export function measuredPairs(plan: LabPlan): Array<[string, string]> {
  return plan.nodes.flatMap((n) => agentTargets(plan, n.name).map((t): [string, string] => [n.name, t.name]));
}

async function poll(
  source: DirectSource,
  done: (m: LinkMatrix) => string[],
  timeoutS: number,
  what: string,
  progress: Progress,
): Promise<void> {
  const until = Date.now() + timeoutS * 1000;
  let missing: string[] = ['no agent has answered yet'];
  let lastError = '';
  let lastReport = 0;
  while (Date.now() < until) {
    try {
      missing = done(await source.fetch(AbortSignal.timeout(5000)));
      if (missing.length === 0) return;
      lastError = '';
    } catch (err) {
      lastError = (err as Error).message;
    }
    if (Date.now() - lastReport > 10_000) {
      lastReport = Date.now();
      progress(`  waiting for ${what}: ${lastError || `missing ${missing.slice(0, 4).join(', ')}${missing.length > 4 ? `, ... (${missing.length})` : ''}`}`);
    }
    await sleep(500);
  }
  throw new Error(`${what}: not complete after ${timeoutS}s; missing ${missing.join(', ')}${lastError ? `; last error: ${lastError}` : ''}`);
}

/** Every measured pair has each of `keys`, measured after `since` (unix seconds). */
export function waitForSweep(
  source: DirectSource,
  plan: LabPlan,
  keys: readonly LinkMetricKey[],
  since: number,
  timeoutS: number,
  progress: Progress,
): Promise<void> {
  const pairs = measuredPairs(plan);
  return poll(
    source,
    (m) =>
      pairs.flatMap(([a, b]) =>
        keys.filter((k) => (m.get(a, b)?.[k]?.timestamp ?? 0) <= since).map((k) => `${a}->${b} ${k}`),
      ),
    timeoutS,
    'a full measurement sweep',
    progress,
  );
}

/**
 * The RTT of the changed pairs measured again, by `runs` runs that started after `since`: the
 * agents export the median of their last runs (5 by default), which follows a change once 3 runs
 * have seen it. Runs are told apart by their timestamps (a run every rttInterval, polled every 0.5 s).
 */
export function waitForRemeasure(
  source: DirectSource,
  pairs: ReadonlyArray<[string, string]>,
  since: number,
  timeoutS: number,
  progress: Progress,
  runs = 3,
): Promise<void> {
  const seen = new Map<string, Set<number>>(pairs.map(([a, b]) => [`${a}->${b}`, new Set()]));
  return poll(
    source,
    (m) =>
      pairs.flatMap(([a, b]) => {
        const key = `${a}->${b}`;
        const t = m.get(a, b)?.rtt_seconds?.timestamp ?? 0;
        if (t > since) seen.get(key)!.add(t);
        return seen.get(key)!.size < runs ? [key] : [];
      }),
    timeoutS,
    `the changed links to be measured again (${runs} runs)`,
    progress,
  );
}
