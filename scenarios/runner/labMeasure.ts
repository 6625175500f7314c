// Lab mode's measurement gates: wait until the agents have measured every link once (before
// placing), and until they have re-measured a link after `lab set` changed it (after an event).
import { DirectSource } from '../../extender/sources/direct.js';
import type { LinkMatrix } from '../../src/linkMatrix.js';
import type { LinkMetricKey } from '../../src/linkMetrics.js';
import { agentPeers } from '../lab/agents.js';
import type { LabPlan } from '../lab/plan.js';
import type { Progress } from './placementRun.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Directed pairs the agents measure (both directions linked). */
export function measuredPairs(plan: LabPlan): Array<[string, string]> {
  return plan.nodes.flatMap((n) => agentPeers(plan, n.name).map((p): [string, string] => [n.name, p.name]));
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

/** The RTT of the changed pairs measured again, by runs that started after `since`. */
export function waitForRemeasure(
  source: DirectSource,
  pairs: ReadonlyArray<[string, string]>,
  since: number,
  timeoutS: number,
  progress: Progress,
): Promise<void> {
  return poll(
    source,
    (m) => pairs.flatMap(([a, b]) => ((m.get(a, b)?.rtt_seconds?.timestamp ?? 0) <= since ? [`${a}->${b}`] : [])),
    timeoutS,
    'the changed links to be measured again',
    progress,
  );
}
