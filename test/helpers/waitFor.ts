// Polls `check` until it returns a value (not undefined) or the time is up; errors thrown by
// `check` count as "not yet" and the last one is quoted in the timeout message.
import { setTimeout as sleep } from 'node:timers/promises';

export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 60_000,
  pollMs = 300,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await sleep(pollMs);
  }
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- a thrown non-Error is shown as it stringifies
  throw new Error(`timed out waiting for ${what}${last ? `: ${last instanceof Error ? last.message : String(last)}` : ''}`);
}

/** waitFor for a synchronous condition, polled often (in-process state: a fake API, a cache). */
export async function waitUntil(what: string, cond: () => boolean, timeoutMs = 10_000, pollMs = 20): Promise<void> {
  await waitFor(what, async () => (cond() ? true : undefined), timeoutMs, pollMs);
}
