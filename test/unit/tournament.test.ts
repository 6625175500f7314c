import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bandwidthBusyUntil, planSlot, sweepSlots, testsInSlot, type Iperf3Job } from '../../agent/bandwidth/timetable.js';
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

describe('bandwidthBusyUntil', () => {
  const plan = planSlot([{ type: 'bandwidth', interval: 0, duration: 2, omit: 0, targets: 'all' }]); // two 5 s windows
  const nodes = ['a', 'b', 'c'];
  const jobs = [{ type: 'bandwidth' as const, interval: 0, duration: 2, omit: 0, targets: 'all' as const }];
  const rounds = roundRobinRounds(3);
  const pairedSlot = (from: number) => [...Array(6).keys()].map((i) => from + i).find((s) => opponentIn(rounds[s % rounds.length]!, 0) === 1)!;
  const busy = (from: number, to: number) => bandwidthBusyUntil({ nodes, self: 'a', jobs, plan }, 'b', from, to);

  it('names the end of the test part of the window the probe overlaps, and nothing when the nodes are not paired', () => {
    expect(plan.slotSeconds).toBe(10);
    for (let k = 100; k < 106; k++) {
      const r = rounds[k % rounds.length]!;
      for (const peer of ['b', 'c']) {
        const paired = opponentIn(r, 0) === nodes.indexOf(peer);
        const t = k * plan.slotSeconds + 1;
        // window 0 (a sends) is [0, 5) of the slot; its last 1.5 s carry no test
        expect(bandwidthBusyUntil({ nodes, self: 'a', jobs, plan }, peer, t, t + 2)).toBe(
          paired ? k * plan.slotSeconds + 3.5 : undefined,
        );
      }
    }
  });

  it("a probe fits into a window's tail; one reaching into the next window waits for that one", () => {
    const slot = pairedSlot(300) * plan.slotSeconds;
    expect(busy(slot + 3.5, slot + 4.5)).toBeUndefined();
    expect(busy(slot + 3.5, slot + 5.5)).toBe(slot + 8.5); // window 1 (b sends) tests in [5, 8.5)
    expect(busy(slot + 8.5, slot + 10)).toBeUndefined();
  });

  it('sees a slot that starts before the probe would end', () => {
    const slot = pairedSlot(200) * plan.slotSeconds;
    expect(busy(slot - 1, slot + 2)).toBe(slot + 3.5);
  });
});

