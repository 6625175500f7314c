import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  planSlot,
  PROBE_GUARD_SECONDS,
  quietGapSeconds,
  quietProbeStart,
  slotNeedsSeconds,
  sweepSlots,
  testsInSlot,
  type Iperf3Job,
} from '../../agent/bandwidth/timetable.js';
import { opponentIn, roundRobinRounds } from '../../agent/bandwidth/tournament.js';

describe('roundRobinRounds', () => {
  it('for N = 2..64: every pair meets exactly once per sweep, nobody twice in a round, N-1 rounds (even) or N (odd)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 64 }), (n) => {
        const rounds = roundRobinRounds(n);
        if (rounds.length !== (n % 2 === 0 ? n - 1 : n)) return false;
        const met = new Map<string, number>();
        for (const round of rounds) {
          const seen = new Set<number>();
          for (const [a, b] of round) {
            if (!(a < b && b < n)) return false;
            if (seen.has(a) || seen.has(b)) return false; // someone twice in one round
            seen.add(a).add(b);
            met.set(`${a}-${b}`, (met.get(`${a}-${b}`) ?? 0) + 1);
          }
          // everyone plays, except exactly one bye when n is odd
          if (seen.size !== (n % 2 === 0 ? n : n - 1)) return false;
        }
        return met.size === (n * (n - 1)) / 2 && [...met.values()].every((c) => c === 1);
      }),
      { numRuns: 100 },
    );
  });

  it('covers every N from 2 to 64 exhaustively too', () => {
    for (let n = 2; n <= 64; n++) {
      const pairs = roundRobinRounds(n).flat();
      expect(new Set(pairs.map(([a, b]) => `${a}-${b}`)).size).toBe((n * (n - 1)) / 2);
    }
  });

  it('has no rounds for fewer than two players and rejects nonsense', () => {
    expect(roundRobinRounds(0)).toEqual([]);
    expect(roundRobinRounds(1)).toEqual([]);
    expect(() => roundRobinRounds(-1)).toThrow();
    expect(() => roundRobinRounds(2.5)).toThrow();
  });

  it('opponentIn finds the partner or a bye', () => {
    const rounds = roundRobinRounds(3);
    const byes = rounds.map((r) => [0, 1, 2].filter((p) => opponentIn(r, p) === undefined));
    expect(byes.map((b) => b.length)).toEqual([1, 1, 1]);
    expect(new Set(byes.flat()).size).toBe(3);
  });
});

const names = (n: number) => Array.from({ length: n }, (_, i) => `node-${String(i).padStart(2, '0')}`);
const tcp = (over: Partial<Iperf3Job> = {}): Iperf3Job => ({ type: 'bandwidth', interval: 0, duration: 2, omit: 0, targets: 'all', ...over });

describe('bandwidth schedule built on the tournament', () => {
  it('every agent computing alone: no node is client or server of two tests in one window, and a sweep covers both directions of every pair', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 24 }), fc.integer({ min: 0, max: 1e9 }), fc.boolean(), (n, start, udp) => {
        const nodes = names(n);
        const jobs = udp ? [tcp(), tcp({ type: 'udp-jitter', duration: 1 })] : [tcp()];
        const plan = planSlot(jobs);
        const rounds = roundRobinRounds(n).length;
        const sweep = sweepSlots(rounds, 0, plan.slotSeconds);
        const done = new Set<string>();
        for (let k = start; k < start + sweep; k++) {
          const busy = new Map<string, Set<string>>(); // window key -> nodes in a test
          for (const self of nodes)
            for (const t of testsInSlot({ nodes, self, jobs, plan, slotIndex: k })) {
              const key = `${t.window.job}/${t.window.phase}`;
              const set = busy.get(key) ?? new Set();
              if (set.has(self) || set.has(t.target)) return false; // a node in two tests at once
              set.add(self).add(t.target);
              busy.set(key, set);
              done.add(`${t.job}:${self}->${t.target}`);
            }
        }
        return done.size === jobs.length * n * (n - 1);
      }),
      { numRuns: 100 },
    );
  });

  it('slots are aligned to the epoch and sweeps no more often than the interval', () => {
    const jobs = [tcp({ interval: 100 })];
    const plan = planSlot(jobs);
    expect(plan.slotSeconds).toBe(10); // two windows of 2 + 0 + 3 s
    expect(sweepSlots(3, 100, 10)).toBe(10);
    const nodes = names(4);
    let tests = 0;
    for (let k = 0; k < 10; k++) tests += testsInSlot({ nodes, self: nodes[0]!, jobs, plan, slotIndex: k }).length;
    expect(tests).toBe(3); // one test per peer per sweep, then idle slots
    const [t] = testsInSlot({ nodes, self: nodes[0]!, jobs, plan, slotIndex: 20 });
    expect(t?.startsAt).toBe(200);
  });

  it('targets limit what a node sends without moving anyone else', () => {
    const nodes = names(3);
    const all = [tcp()];
    const only = [tcp({ targets: ['node-02'] })];
    const plan = planSlot(all);
    for (let k = 0; k < 3; k++) {
      const a = testsInSlot({ nodes, self: 'node-00', jobs: all, plan, slotIndex: k }).filter((t) => t.target === 'node-02');
      const b = testsInSlot({ nodes, self: 'node-00', jobs: only, plan, slotIndex: k });
      expect(b).toEqual(a);
    }
  });

  it('rejects an explicit slot too short for its windows', () => {
    expect(() => planSlot([tcp({ duration: 5, omit: 1 })], 10)).toThrow(/shorter/);
    expect(planSlot([tcp({ duration: 5, omit: 1 })], 30).slotSeconds).toBe(30);
  });

  it('a node not in the list, or alone, runs nothing', () => {
    const plan = planSlot([tcp()]);
    expect(testsInSlot({ nodes: ['a'], self: 'a', jobs: [tcp()], plan, slotIndex: 0 })).toEqual([]);
    expect(testsInSlot({ nodes: ['a', 'b'], self: 'c', jobs: [tcp()], plan, slotIndex: 0 })).toEqual([]);
  });
});

describe('quiet gaps: no RTT probe overlaps a window in which either endpoint tests', () => {
  /** Every window (unix seconds) in which `node` is client or server, from every agent's own timetable. */
  const truth = (nodes: string[], jobs: Iperf3Job[], plan: ReturnType<typeof planSlot>, fromSlot: number, toSlot: number) => {
    const busy = new Map<string, Array<[number, number]>>(nodes.map((n) => [n, []]));
    for (let k = fromSlot; k <= toSlot; k++)
      for (const self of nodes)
        for (const t of testsInSlot({ nodes, self, jobs, plan, slotIndex: k })) {
          busy.get(self)!.push([t.startsAt, t.endsAt]);
          busy.get(t.target)!.push([t.startsAt, t.endsAt]);
        }
    return busy;
  };

  it('for any node count, jobs, interval, probe length and start: the probe lands in a quiet stretch of both nodes, within one window and one gap', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 14 }),
        fc.integer({ min: 0, max: 1e8 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.boolean(),
        fc.constantFrom(0, 30, 300),
        fc.double({ min: 0.2, max: 6, noNaN: true }),
        fc.integer({ min: 0, max: 1000 }),
        (n, startSlot, frac, udp, interval, run, pick) => {
          const nodes = names(n);
          const jobs = udp ? [tcp({ interval, duration: 5, omit: 1 }), tcp({ type: 'udp-jitter', interval, duration: 3 })] : [tcp({ interval })];
          const plan = planSlot(jobs, undefined, quietGapSeconds(run));
          const self = nodes[pick % n]!;
          const target = nodes[((pick % n) + 1 + (Math.floor(pick / n) % (n - 1))) % n]!; // any other node
          const from = (startSlot + frac) * plan.slotSeconds;
          const t = quietProbeStart({ nodes, self, jobs, plan }, target, from, run);
          if (t === undefined || t < from) return false;
          const longest = Math.max(...plan.windows.map((w) => w.length));
          if (t - from > longest + plan.quietSeconds + 1e-6) return false; // waits one window and one gap at most
          const busy = truth(nodes, jobs, plan, startSlot - 1, startSlot + 3);
          const lo = t - PROBE_GUARD_SECONDS;
          const hi = t + run + PROBE_GUARD_SECONDS;
          return [...busy.get(self)!, ...busy.get(target)!].every(([s, e]) => e <= lo + 1e-6 || s >= hi - 1e-6);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('lays out window, gap, window, gap; the gap fits the longest probe and a guard either side', () => {
    expect(quietGapSeconds(2.5)).toBe(3.5);
    expect(quietGapSeconds(1.2)).toBe(2.5); // rounded up to half seconds
    expect(quietGapSeconds(0)).toBe(0);
    const plan = planSlot([tcp({ duration: 5, omit: 1 })], undefined, 3.5);
    expect(plan.windows.map((w) => [w.offset, w.length])).toEqual([
      [0, 9],
      [12.5, 9],
    ]);
    expect(plan.slotSeconds).toBe(25);
    expect(slotNeedsSeconds([{ duration: 5, omit: 1 }], 3.5)).toBe(25);
    expect(() => planSlot([tcp({ duration: 5, omit: 1 })], 24, 3.5)).toThrow(/quiet gaps/);
  });

  it('without quiet gaps a busy pair waits for an idle slot, and has nowhere to go when sweeps run back to back', () => {
    const nodes = names(4); // even: everyone tests in every window of an active slot
    const back2back = [tcp({ interval: 0 })];
    const plan = planSlot(back2back);
    expect(quietProbeStart({ nodes, self: nodes[0]!, jobs: back2back, plan }, nodes[1]!, 1000 * plan.slotSeconds, 2)).toBeUndefined();
    const spaced = [tcp({ interval: 100 })]; // 3 active slots of 10 s, then 7 idle ones
    const t = quietProbeStart({ nodes, self: nodes[0]!, jobs: spaced, plan }, nodes[1]!, 1000, 2);
    expect(t).toBe(1030 + PROBE_GUARD_SECONDS);
  });

  it("the node sitting out a round still waits for its target's windows", () => {
    const nodes = names(5);
    const jobs = [tcp()];
    const plan = planSlot(jobs, undefined, 2.5);
    const rounds = roundRobinRounds(5);
    for (let k = 0; k < 5; k++) {
      const bye = [0, 1, 2, 3, 4].find((i) => opponentIn(rounds[k]!, i) === undefined)!;
      const from = k * plan.slotSeconds + 1;
      const other = nodes[(bye + 1) % 5]!;
      const t = quietProbeStart({ nodes, self: nodes[bye]!, jobs, plan }, other, from, 1.5)!;
      expect(t).toBe(k * plan.slotSeconds + 5 + PROBE_GUARD_SECONDS); // after the first window (2 + 0 + 3 s)
    }
  });
});
