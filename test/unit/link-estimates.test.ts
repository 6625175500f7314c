// The robust RTT, jitter and loss the agent exports: one bad run cannot move them, loss spans at
// least 100 probes, an outage starts RTT and jitter over; the history keeps every run's own values.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { estimateLink, median, trimRuns, type PingRunSummary } from '../../agent/linkEstimates.js';
import { recordFromPing } from '../../agent/measurementRecord.js';
import { ResultStore } from '../../agent/results.js';
import type { PingStats } from '../../agent/tools/pingOutput.js';

const run = (rttMs: number | undefined, received = 10, sent = 10, jitterMs = 0.1, timestamp = 0): PingRunSummary => ({
  timestamp,
  sent,
  received,
  ...(rttMs === undefined ? {} : { rtt: rttMs / 1000, jitter: jitterMs / 1000 }),
});

describe('median', () => {
  it('middle value, mean of the two middle ones, undefined when empty', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeUndefined();
  });
});

describe('estimateLink', () => {
  it('RTT is the median of the last 5 runs: one or two bad runs anywhere in them do not move it', () => {
    const good = [10, 10.1, 9.9, 10, 10.05];
    for (let i = 0; i < 5; i++)
      for (let j = i; j < 5; j++) {
        const runs = good.map((ms, k) => run(k === i || k === j ? 28 : ms));
        expect(estimateLink(runs).rtt! * 1000).toBeGreaterThanOrEqual(9.9);
        expect(estimateLink(runs).rtt! * 1000).toBeLessThanOrEqual(10.1);
      }
  });

  it('follows a real change after three runs of the new value', () => {
    const runs = [10, 10, 10, 10, 10].map((ms) => run(ms));
    runs.push(run(20), run(20));
    expect(estimateLink(runs).rtt! * 1000).toBeCloseTo(10);
    runs.push(run(20));
    expect(estimateLink(runs).rtt! * 1000).toBeCloseTo(20);
  });

  it('loss is lost/sent over the latest runs with at least 100 probes, not one run', () => {
    // ten runs of 10 probes at 10 % loss, one unlucky run with 5 of 10 lost
    const runs = Array.from({ length: 10 }, () => run(10, 9));
    expect(estimateLink(runs).loss).toBeCloseTo(0.1);
    runs.push(run(10, 5));
    // window: the last 10 runs (100 probes): 9 runs at 1 lost + 5 = 14 lost
    expect(estimateLink(runs).loss).toBeCloseTo(0.14);
    // a larger window dilutes the unlucky run further
    expect(estimateLink(runs, { runs: 5, probes: 110 }).loss).toBeCloseTo(15 / 110);
    // fewer probes than the window so far: all of them
    expect(estimateLink([run(10, 8)]).loss).toBeCloseTo(0.2);
  });

  it('a run with nothing back: loss 1 and no RTT or jitter; afterwards RTT and jitter start over, loss keeps its window', () => {
    const runs = [run(50), run(50), run(50), run(undefined, 0)];
    expect(estimateLink(runs)).toEqual({ loss: 1 });
    runs.push(run(10, 10, 10, 0.3));
    const e = estimateLink(runs);
    expect(e.rtt! * 1000).toBeCloseTo(10); // not the 50 ms from before the outage
    expect(e.jitter! * 1000).toBeCloseTo(0.3);
    expect(e.loss).toBeCloseTo(10 / 50);
  });

  it('jitter is the median of the per-run mdev over the probe window', () => {
    const runs = [0.1, 0.2, 5, 0.15, 0.12, 0.11, 0.13, 0.2, 0.1, 0.14].map((j) => run(10, 10, 10, j));
    expect(estimateLink(runs).jitter! * 1000).toBeCloseTo(0.135);
  });

  it('trimRuns keeps exactly what the windows need, whatever the run sizes', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 40 })), { minLength: 1, maxLength: 80 }), (sizes) => {
        const all = sizes.map(([sent, got], i) => run(got > 0 ? 10 + i : undefined, Math.min(got, sent), sent));
        const w = { runs: 5, probes: 100 };
        const kept: PingRunSummary[] = [];
        for (const r of all) {
          kept.push(r);
          trimRuns(kept, w);
          // the estimate from the trimmed list equals the one from the full one
          const full = estimateLink(all.slice(0, all.indexOf(r) + 1), w);
          const trimmed = estimateLink(kept, w);
          if (JSON.stringify(full) !== JSON.stringify(trimmed)) return false;
        }
        return kept.length <= Math.max(5, 101);
      }),
      { numRuns: 200 },
    );
  });
});

describe('ResultStore with ping runs', () => {
  const stats = (rttMs: number, received = 10): PingStats => ({
    kind: 'stats',
    transmitted: 10,
    received,
    errors: 0,
    loss: (10 - received) / 10,
    ...(received > 0 ? { rtt: { min: rttMs / 1000, avg: rttMs / 1000, max: rttMs / 1000, mdev: 0.0001 } } : {}),
    replies: Array.from({ length: received }, () => rttMs / 1000),
    unreachable: false,
  });

  it('exports the robust values; the history keeps every run as measured', () => {
    const store = new ResultStore(20);
    const save = (ms: number, t: number, received = 10) => store.record('b', '10.0.0.2', recordFromPing(stats(ms, received), t));
    save(10, 1);
    save(10.2, 2);
    save(33, 3, 7); // one bad run
    save(9.9, 4);
    save(10.1, 5);
    const link = store.report('a', 'net').links[0]!;
    expect(link.metrics.rtt_seconds!.value * 1000).toBeCloseTo(10.1);
    expect(link.metrics.rtt_seconds!.timestamp).toBe(5);
    expect(link.metrics.packet_loss_ratio!.value).toBeCloseTo(3 / 50);
    // min/max: over the same runs as the RTT, so they bracket it
    expect(link.metrics.rtt_min_seconds!.value * 1000).toBeCloseTo(9.9);
    expect(link.metrics.rtt_max_seconds!.value * 1000).toBeCloseTo(33);
    const runs = store.history('a', 'net').links[0]!.history.rtt!;
    expect(runs.map((r) => Math.round(r.values.rtt_seconds! * 1e4) / 10)).toEqual([10, 10.2, 33, 9.9, 10.1]);
    expect(runs[2]!.values.packet_loss_ratio).toBeCloseTo(0.3);
  });

  it('a run with nothing back clears the RTT series and reads loss 1', () => {
    const store = new ResultStore(20);
    store.record('b', '10.0.0.2', recordFromPing(stats(10), 1));
    store.record('b', '10.0.0.2', recordFromPing(stats(10, 0), 2));
    const m = store.report('a', 'net').links[0]!.metrics;
    expect(m.rtt_seconds).toBeUndefined();
    expect(m.jitter_seconds).toBeUndefined();
    expect(m.packet_loss_ratio!.value).toBe(1);
  });
});
