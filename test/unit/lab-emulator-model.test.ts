import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_LINK_PROPERTIES } from '../../scenarios/topology.js';
import { LinkShaper } from '../../scenarios/lab/linkShaper.js';
import { MinHeap } from '../../scenarios/lab/minHeap.js';
import { PreciseTimer } from '../../scenarios/lab/preciseTimer.js';
import { ReceiveLatencyProbe } from '../../scenarios/lab/receiveLatency.js';

const props = (p: Partial<typeof DEFAULT_LINK_PROPERTIES>) => ({ ...DEFAULT_LINK_PROPERTIES, ...p });

describe('MinHeap', () => {
  it('pops in key order, FIFO among equal keys', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 20 })), (keys) => {
        const h = new MinHeap<number>();
        keys.forEach((k, i) => h.push(k, i));
        const out: [number, number][] = [];
        for (let e = h.pop(); e; e = h.pop()) out.push([e.key, e.value]);
        const expected = keys.map((k, i) => [k, i] as [number, number]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
        expect(out).toEqual(expected);
      }),
    );
  });
});

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

describe('PreciseTimer', () => {
  it('runs items in due order, never early', async () => {
    const start = performance.now();
    const got: { id: number; due: number; at: number }[] = [];
    const dues = [12, 3, 7, 7.5, 0, 20, 1];
    await new Promise<void>((resolve) => {
      const s = new PreciseTimer<number>((id, due, now) => {
        got.push({ id, due, at: now });
        if (got.length === dues.length) resolve();
      });
      dues.forEach((d, i) => s.at(start + d, i));
    });
    expect(got.map((g) => g.id)).toEqual([4, 6, 1, 2, 3, 0, 5]);
    for (const g of got) expect(g.at).toBeGreaterThanOrEqual(g.due);
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
