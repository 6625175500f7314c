// The agent's two schedulers with fake timers: RTT timers follow the job list; the bandwidth
// loop runs tests at window starts and retries busy answers only while the window has room.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BandwidthWindowTimer } from '../../agent/bandwidth/windowTimer.js';
import { RttProbeTimers, type RttJob } from '../../agent/rttProbeTimers.js';
import { testsInSlot, type PlannedTest } from '../../agent/bandwidth/timetable.js';

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(999_999_500); // unix ms: half a second before a slot boundary at 1_000_000 s
});
afterEach(() => vi.useRealTimers());

const job = (target: string, interval = 10): RttJob => ({
  key: `k-${target}-${interval}`,
  target,
  address: '10.0.0.2',
  interval,
  runSeconds: 3,
});

describe('RttProbeTimers', () => {
  it('runs each job around its interval, keeps unchanged jobs and drops removed ones', async () => {
    const runs: string[] = [];
    const s = new RttProbeTimers(async (j) => void runs.push(j.target), () => 0.5);
    s.update([job('b'), job('c')]);
    await vi.advanceTimersByTimeAsync(5_000); // first run after random * min(interval, 10) = 5 s
    expect(runs.sort()).toEqual(['b', 'c']);
    await vi.advanceTimersByTimeAsync(10_000); // interval * (0.9 + 0.2 * 0.5) = 10 s
    expect(runs).toHaveLength(4);
    s.update([job('b')]);
    expect(s.keys()).toEqual(['k-b-10']);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(runs.filter((r) => r === 'c')).toHaveLength(2);
    expect(runs.filter((r) => r === 'b')).toHaveLength(3);
    await s.stop();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(runs).toHaveLength(5);
  });

  it('never overlaps a job with itself when a run outlasts the interval', async () => {
    let active = 0;
    let maxActive = 0;
    const s = new RttProbeTimers(async () => {
      maxActive = Math.max(maxActive, ++active);
      await new Promise((r) => setTimeout(r, 25_000));
      active--;
    }, () => 0);
    s.update([job('b', 10)]);
    await vi.advanceTimersByTimeAsync(100_000);
    expect(maxActive).toBe(1);
    const stopped = s.stop(); // waits for the run in progress
    await vi.advanceTimersByTimeAsync(25_000);
    await stopped;
  });

  it('a run due in a busy stretch waits for the quiet start the timetable names; woken for it, only the windows count', async () => {
    const calls: Array<[number, number | undefined]> = [];
    const runs: number[] = [];
    let quietAt = Date.now() / 1000 + 7; // busy for 7 s
    const s = new RttProbeTimers(
      async () => void runs.push(Date.now() / 1000),
      () => 0,
      (_job, from, guard) => {
        calls.push([from, guard]);
        return Math.max(from, quietAt);
      },
    );
    const t0 = Date.now() / 1000;
    s.update([job('b', 10)]);
    await vi.advanceTimersByTimeAsync(6_000);
    expect(runs).toEqual([]);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(runs).toEqual([t0 + 7]);
    // first asked with the default guards, then (woken for the planned start) with none
    expect(calls.map(([, g]) => g)).toEqual([undefined, 0]);
    quietAt = Infinity; // from now on there is no quiet time at all: no run, however long
    await vi.advanceTimersByTimeAsync(60_000);
    expect(runs).toHaveLength(1);
    await s.stop();
  });

  it('no room in the timetable: the run is skipped, not squeezed into a test', async () => {
    const runs: number[] = [];
    const s = new RttProbeTimers(async () => void runs.push(Date.now() / 1000), () => 0, () => undefined);
    s.update([job('b', 10)]);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(runs).toEqual([]);
    await s.stop();
  });

  it('with the real timetable and back-to-back sweeps: no run overlaps a window of either node, and runs are at most one interval, one window and one gap apart', async () => {
    const nodes = ['a', 'b', 'c', 'd'];
    const jobs = [{ type: 'bandwidth' as const, interval: 0, duration: 2, omit: 1, targets: 'all' as const }];
    const runSeconds = 1.2;
    const bw = new BandwidthWindowTimer(async () => 'success');
    bw.update({ nodes, self: 'a', jobs, probeSeconds: runSeconds });
    const plan = bw.slotPlan!;
    expect(plan.quietSeconds).toBe(2.5);
    const runs = new Map<string, number[]>();
    const rtt = new RttProbeTimers(
      async (j) => {
        runs.set(j.target, [...(runs.get(j.target) ?? []), Date.now() / 1000]);
        await new Promise((r) => setTimeout(r, runSeconds * 1000));
      },
      Math.random,
      (j, from, guard) => bw.quietStart(j.target, from, j.runSeconds, guard),
    );
    rtt.update(['b', 'c', 'd'].map((t) => ({ ...job(t, 3), runSeconds })));
    const t0 = Date.now() / 1000;
    await vi.advanceTimersByTimeAsync(600_000);
    await rtt.stop();
    await bw.stop();
    const busy = new Map<string, Array<[number, number]>>(nodes.map((n) => [n, []]));
    for (let k = Math.floor(t0 / plan.slotSeconds) - 1; k <= Math.ceil((t0 + 600) / plan.slotSeconds); k++)
      for (const self of nodes)
        for (const t of testsInSlot({ nodes, self, jobs, plan, slotIndex: k })) {
          busy.get(self)!.push([t.startsAt, t.endsAt]);
          busy.get(t.target)!.push([t.startsAt, t.endsAt]);
        }
    const window = 2 + 1 + 3;
    for (const [target, starts] of runs) {
      expect(starts.length).toBeGreaterThan(600 / (1.1 * 3 + window + plan.quietSeconds));
      for (const t of starts)
        for (const [s, e] of [...busy.get('a')!, ...busy.get(target)!]) expect(e <= t || s >= t + runSeconds, `${target} at ${t}`).toBe(true);
      for (let i = 1; i < starts.length; i++) expect(starts[i]! - starts[i - 1]!).toBeLessThanOrEqual(1.1 * 3 + window + plan.quietSeconds + 1e-6);
    }
  });
});

describe('BandwidthWindowTimer', () => {
  const ctx = { nodes: ['node-a', 'node-b'], self: 'node-a', jobs: [{ type: 'bandwidth' as const, interval: 0, duration: 2, omit: 0, targets: 'all' as const }] };

  it('runs the test at the start of its window (lower node sends in phase 0)', async () => {
    const starts: number[] = [];
    const s = new BandwidthWindowTimer(async (t: PlannedTest) => {
      starts.push(Date.now() / 1000);
      expect(t.target).toBe('node-b');
      return 'success';
    });
    s.update(ctx);
    await vi.advanceTimersByTimeAsync(25_500);
    // slot = 10 s (two windows of 5 s); node-a sends at 0 s of each slot
    expect(starts).toEqual([1_000_000, 1_000_010, 1_000_020]);
    await s.stop();
  });

  it('the higher node sends in the second window', async () => {
    const starts: number[] = [];
    const s = new BandwidthWindowTimer(async () => {
      starts.push(Date.now() / 1000);
      return 'success';
    });
    s.update({ ...ctx, self: 'node-b' });
    await vi.advanceTimersByTimeAsync(12_500);
    expect(starts).toEqual([1_000_005]);
    await s.stop();
  });

  it('retries busy answers with jitter while the window has room, then gives up until the next sweep', async () => {
    const attempts: Array<[number, number]> = [];
    const s = new BandwidthWindowTimer(
      async (_t, attempt) => {
        attempts.push([attempt, Date.now() / 1000]);
        return 'busy';
      },
      () => Date.now() / 1000,
      () => 0, // 0.5 s wait
    );
    s.update({ ...ctx, jobs: [{ ...ctx.jobs[0]!, duration: 1 }] }); // window 4 s, needs 1 + 1.5
    await vi.advanceTimersByTimeAsync(4_400);
    // window [0, 4); an attempt needs 1 s + 1.5 s margin and each retry waits 0.5 s: attempts at
    // 0, 0.5, 1.0 and 1.5 fit (1.5 + 0.5 + 2.5 > 4 stops there).
    expect(attempts.map(([a]) => a)).toEqual([1, 2, 3, 4]);
    expect(attempts.map(([, t]) => t - 1_000_000)).toEqual([0, 0.5, 1, 1.5]);
    await s.stop();
  });
});
