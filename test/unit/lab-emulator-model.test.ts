import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_LINK_PROPERTIES } from '../../scenarios/topology.js';
import { LinkShaper } from '../../scenarios/lab/linkShaper.js';
import { capacityWarnings } from '../../scenarios/lab/capacity.js';
import {
  fractionWithin,
  histogramDiff,
  histogramLines,
  histogramQuantile,
  histogramSlots,
  histogramSum,
  LATENESS_BOUNDS,
  PROBE_ERROR_BOUNDS,
  SharedHistogram,
} from '../../scenarios/lab/latencyHistogram.js';
import { assignLanes, laneCount } from '../../scenarios/lab/linkGroups.js';
import { MAX_DATAGRAM, PacketRing, ringSlotsFor } from '../../scenarios/lab/packetRing.js';
import { ReceiveLatencyProbe } from '../../scenarios/lab/receiveLatency.js';

const props = (p: Partial<typeof DEFAULT_LINK_PROPERTIES>) => ({ ...DEFAULT_LINK_PROPERTIES, ...p });

describe('LinkShaper', () => {
  it('adds the delay; without a rate packets do not wait for each other', () => {
    const s = new LinkShaper(props({ delay: 0.01 }));
    expect(s.admit(1, 1500)).toEqual({ due: 1.01 });
    expect(s.admit(1, 1500)).toEqual({ due: 1.01 });
  });

  it('serializes at the rate and tail-drops beyond the queue limit', () => {
    // 1 MB/s: a 1000-byte packet takes 1 ms. Queue limit 3.5 ms of waiting.
    const s = new LinkShaper(props({ rate: 1e6, queue: 0.0035, delay: 0.005 }));
    const out = [0, 1, 2, 3, 4].map(() => s.admit(0, 1000));
    expect(out.slice(0, 4).map((v) => ('due' in v ? Math.round(v.due * 1e6) : v))).toEqual([6000, 7000, 8000, 9000]);
    expect(out[4]).toEqual({ drop: 'queue' });
    expect(s.backlog(0)).toBeCloseTo(0.004);
    // Later the queue has drained.
    expect(s.admit(1, 1000)).toEqual({ due: 1 + 0.001 + 0.005 });
  });

  it('long-run throughput equals the rate', () => {
    const s = new LinkShaper(props({ rate: 2.5e6, queue: 0.05 }));
    let last = 0;
    let sent = 0;
    for (let t = 0; t < 2; t += 0.0001) {
      // Offered 1472 B every 0.1 ms = 14.7 MB/s, far above the rate.
      const v = s.admit(t, 1472);
      if ('due' in v) {
        sent += 1472;
        last = v.due;
      }
    }
    expect(sent / last).toBeGreaterThan(2.5e6 * 0.99);
    expect(sent / last).toBeLessThan(2.5e6 * 1.01);
  });

  it('drops about `loss` of the packets', () => {
    let seed = 42;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const s = new LinkShaper(props({ loss: 0.1 }), rnd);
    let drops = 0;
    for (let i = 0; i < 10000; i++) if ('drop' in s.admit(i, 100)) drops++;
    expect(drops / 10000).toBeGreaterThan(0.09);
    expect(drops / 10000).toBeLessThan(0.11);
  });

  it('jitter stays within delay ± jitter, never reorders, never goes below zero', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 0.05, noNaN: true }),
        fc.double({ min: 0, max: 0.05, noNaN: true }),
        fc.array(fc.double({ min: 0, max: 0.001, noNaN: true }), { minLength: 1, maxLength: 50 }),
        (delay, jitter, gaps) => {
          const s = new LinkShaper(props({ delay, jitter }));
          let t = 0;
          let prev = -Infinity;
          for (const g of gaps) {
            t += g;
            const v = s.admit(t, 100);
            if (!('due' in v)) throw new Error('dropped');
            expect(v.due).toBeGreaterThanOrEqual(prev);
            expect(v.due).toBeGreaterThanOrEqual(t);
            expect(v.due).toBeLessThanOrEqual(Math.max(prev, t + delay + jitter) + 1e-12);
            prev = v.due;
          }
        },
      ),
    );
  });

  it('changes apply to the next packet', () => {
    const s = new LinkShaper(props({ delay: 0.01 }));
    expect(s.update({ delay: 0.002, loss: 0 })).toMatchObject({ delay: 0.002 });
    // The earlier packet was due at 1.01; a later one is not allowed to overtake it.
    expect(s.admit(1, 100)).toEqual({ due: 1.002 });
  });
});

describe('PacketRing', () => {
  it('hands packets over in order with their due times, refuses when full, and wraps around', () => {
    const ring = PacketRing.create(5); // rounded up to 8
    expect(ring.slots).toBe(8);
    const other = new PacketRing(ring.buffers); // the consumer's view, as in another thread
    expect(other.peekDue()).toBe(Infinity);
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 8; i++) expect(ring.push(round * 100 + i, Uint8Array.from([round, i, 7]))).toBe(true);
      expect(ring.push(999, Uint8Array.from([1]))).toBe(false); // full
      for (let i = 0; i < 8; i++) {
        expect(other.peekDue()).toBe(round * 100 + i);
        expect([...other.peek()!]).toEqual([round, i, 7]);
        other.pop();
      }
      expect(other.peek()).toBeUndefined();
    }
    expect(ring.push(1, new Uint8Array(MAX_DATAGRAM + 1))).toBe(false);
    expect(ring.push(1, new Uint8Array(MAX_DATAGRAM))).toBe(true);
  });

  it('is sized for the packets a link can have in flight', () => {
    // 400 Mbit/s: 34 000 full packets a second, 75 ms in flight, twice that
    expect(ringSlotsFor({ rate: 50e6, delay: 0.025, jitter: 0, queue: 0.05 })).toBe(Math.ceil((2 * 50e6 * 0.075) / 1472));
    expect(ringSlotsFor({ rate: 1e6, delay: 0.001, jitter: 0, queue: 0.05 })).toBe(1024);
    expect(ringSlotsFor({ rate: null, delay: 1, jitter: 0, queue: 0.05 })).toBe(16384);
  });
});

describe('assignLanes', () => {
  const link = (from: string, to: string, mbps: number | null) => ({ from, to, rate: mbps === null ? null : (mbps * 1e6) / 8 });
  it('gives fast links lanes of their own, never puts a link and its reverse together, and balances the rest', () => {
    const links = [
      link('a', 'b', 400),
      link('b', 'a', 400),
      link('c', 'd', 20),
      link('d', 'c', 20),
      link('a', 'c', 200),
      link('c', 'a', 200),
      link('b', 'd', 50),
      link('d', 'b', 50),
    ];
    expect(laneCount(links)).toBe(6); // 4 fast links, 2 lanes for the slow ones
    const lanes = assignLanes(links);
    const by = (i: number) => lanes.filter((l) => l === lanes[i]).length;
    for (const fast of [0, 1, 4, 5]) expect(by(fast)).toBe(1); // 400 and 200 Mbit/s: alone
    for (let i = 0; i < links.length; i += 2) expect(lanes[i]).not.toBe(lanes[i + 1]);
    // more fast links than lanes: spread by rate, reverses still apart
    const many = Array.from({ length: 6 }, (_, k) => [link(`a${k}`, `b${k}`, 400), link(`b${k}`, `a${k}`, 400)]).flat();
    expect(laneCount(many)).toBe(8);
    const spread = assignLanes(many);
    for (let i = 0; i < many.length; i += 2) expect(spread[i]).not.toBe(spread[i + 1]);
  });

  it('never places a link with its reverse, whatever the rates', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 5 }), fc.integer({ min: 0, max: 5 }), fc.option(fc.integer({ min: 1, max: 1000 }))), { maxLength: 30 }), (raw) => {
        const seen = new Set<string>();
        const links = raw.flatMap(([a, b, r]) => {
          if (a === b || seen.has(`${a}-${b}`)) return [];
          seen.add(`${a}-${b}`);
          return [link(`n${a}`, `n${b}`, r)];
        });
        const lanes = assignLanes(links);
        const n = laneCount(links);
        return links.every((l, i) => lanes[i]! < Math.max(1, n) && links.every((m, j) => !(m.from === l.to && m.to === l.from) || lanes[j] !== lanes[i] || n < 2));
      }),
    );
  });
});

describe('latency histograms in shared memory', () => {
  it('counts into buckets, sums, and gives quantiles as bucket bounds', () => {
    const arr = new Float64Array(histogramSlots(LATENESS_BOUNDS));
    const h = new SharedHistogram(arr, 0, LATENESS_BOUNDS);
    for (let i = 0; i < 98; i++) h.observe(30e-6);
    h.observe(180e-6);
    h.observe(3e-3);
    const s = h.snapshot();
    expect(s.count).toBe(100);
    expect(s.max).toBe(3e-3);
    expect(histogramQuantile(s, 0.5)).toBe(50e-6);
    expect(histogramQuantile(s, 0.99)).toBe(200e-6);
    expect(histogramQuantile(s, 1)).toBe(5e-3);
    const before = s;
    h.observe(60e-3); // above every bound: the quantile is the max
    const d = histogramDiff(before, h.snapshot());
    expect(d.count).toBe(1);
    expect(histogramQuantile(d, 0.5)).toBe(60e-3);
    expect(histogramLines('x', d)).toContain('x_bucket{le="+Inf"} 1');
  });

  it('signed probe errors: the fraction within ±0.2 ms', () => {
    const arr = new Float64Array(2 * histogramSlots(PROBE_ERROR_BOUNDS));
    const a = new SharedHistogram(arr, 0, PROBE_ERROR_BOUNDS);
    const b = new SharedHistogram(arr, histogramSlots(PROBE_ERROR_BOUNDS), PROBE_ERROR_BOUNDS);
    for (const x of [-300e-6, -150e-6, 0, 10e-6, 150e-6]) a.observe(x);
    for (const x of [250e-6, 30e-6, 30e-6, 30e-6, 30e-6]) b.observe(x);
    const sum = histogramSum([a.snapshot(), b.snapshot()], PROBE_ERROR_BOUNDS);
    expect(sum.count).toBe(10);
    expect(fractionWithin(sum, -200e-6, 200e-6)).toBeCloseTo(0.8);
    expect(histogramQuantile(sum, 0.01)).toBe(-200e-6); // the bucket (-500, -200] µs
  });
});

describe('capacityWarnings', () => {
  const cap = { mbps: 300, measuredAt: '2026-01-01', source: 'test' };
  const link = (from: string, to: string, mbps: number | null) => ({ from, to, rate: mbps === null ? null : (mbps * 1e6) / 8 });
  it('names links faster than the capacity, and the links one bandwidth round can load at once', () => {
    expect(capacityWarnings([link('a', 'b', 100), link('c', 'd', 100)], 4, cap)).toEqual([]);
    const w = capacityWarnings([link('a', 'b', 400), link('c', 'd', 100)], 4, cap);
    expect(w).toHaveLength(2); // the link, and the round it is tested in (500 Mbit/s)
    expect(w[0]).toMatch(/link a->b \(400Mbps\) is faster than the emulator's capacity of 300 Mbit\/s/);
    const round = capacityWarnings([link('a', 'b', 200), link('c', 'd', 200), link('e', 'f', 50)], 6, cap);
    expect(round).toHaveLength(1);
    expect(round[0]).toMatch(/the 3 fastest links, which one round of bandwidth tests may load at once, need 450 Mbit\/s/);
    expect(capacityWarnings([link('a', 'b', null)], 2, cap)[0]).toMatch(/unlimited/);
    // links loaded at once are judged by what the emulator carries that way
    const both = { ...cap, mbps: 450, concurrentMbps: 280 };
    expect(capacityWarnings([link('a', 'b', 200), link('c', 'd', 200)], 4, both)).toEqual([
      expect.stringMatching(/need 400 Mbit\/s together, more than the 280 Mbit\/s the emulator carries on links loaded at once/),
    ]);
    // a pair's two directions are never loaded at once, nor two links sharing a node
    const pair = [link('a', 'b', 250), link('b', 'a', 250), link('a', 'c', 200), link('c', 'd', 20)];
    expect(capacityWarnings(pair, 4, both)).toEqual([]); // a->b with c->d: 270 Mbit/s
    expect(capacityWarnings([...pair, link('d', 'c', 100)], 4, both)[0]).toMatch(/the 2 fastest links, .* need 350 Mbit\/s/);
  });
});

describe('ReceiveLatencyProbe', () => {
  it('estimates the median wake-up latency of recent samples, capped at maxMs', () => {
    const p = new ReceiveLatencyProbe(5, 1);
    for (const ms of [0.2, 0.1, 0.3, 0.2, 0.25]) p.add(ms);
    expect(p.estimate).toBe(0.2);
    for (let i = 0; i < 5; i++) p.add(5);
    expect(p.estimate).toBe(1);
  });

  it('follows a change of load within half a window (an idle spell, then traffic)', () => {
    const p = new ReceiveLatencyProbe(9, 1);
    for (let i = 0; i < 100; i++) p.add(0.4);
    for (let i = 0; i < 4; i++) p.add(0.2);
    expect(p.estimate).toBe(0.4);
    p.add(0.2);
    expect(p.estimate).toBe(0.2);
  });

  it('ignores negative and NaN samples', () => {
    const p = new ReceiveLatencyProbe();
    p.add(-1);
    p.add(NaN);
    expect(p.count).toBe(0);
    expect(p.estimate).toBe(0);
  });
});
