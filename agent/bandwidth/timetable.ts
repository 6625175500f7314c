// When each iperf3 test runs. Time is cut into slots aligned to the unix epoch; slot k plays
// round (k mod sweep length) of the round-robin tournament over the sorted node list (self and
// peers), so every agent with the same config and node list derives the same timetable without
// talking to the others. Inside a slot every iperf3 measurement type gets two windows back to
// back: in the first the lower-sorted node of each pair sends to the other, in the second the
// other way round. A node is thus client or server of at most one test at any moment.
import type { MeasurementType } from '../../src/linkMetrics.js';
import { opponentIn, roundRobinRounds, type Pairing } from './tournament.js';

/** Time a window needs beyond the test itself: process start, connect, result exchange, clock skew. */
export const WINDOW_MARGIN_SECONDS = 3;
/** The end of every window that no test loads: a retried test starts only if it ends before it. */
export const WINDOW_TAIL_SECONDS = WINDOW_MARGIN_SECONDS / 2;

export interface Iperf3Job {
  type: MeasurementType;
  /** Seconds between two sweeps over all pairs. */
  interval: number;
  duration: number;
  omit: number;
  targets: 'all' | readonly string[];
}

export interface ScheduleWindow {
  job: number;
  /** 0: lower-sorted node of a pair sends; 1: the higher one sends. */
  phase: 0 | 1;
  /** Seconds from the start of the slot. */
  offset: number;
  length: number;
}

export interface SlotPlan {
  slotSeconds: number;
  windows: ScheduleWindow[];
}

/** Minimum window length for a job. */
export const windowSeconds = (job: Pick<Iperf3Job, 'duration' | 'omit'>): number =>
  job.duration + job.omit + WINDOW_MARGIN_SECONDS;

/** Lays out the windows of one slot. An explicit slot length must fit them all. */
export function planSlot(jobs: readonly Iperf3Job[], slotSeconds?: number): SlotPlan {
  const windows: ScheduleWindow[] = [];
  let offset = 0;
  jobs.forEach((job, i) => {
    for (const phase of [0, 1] as const) {
      const length = windowSeconds(job);
      windows.push({ job: i, phase, offset, length });
      offset += length;
    }
  });
  if (slotSeconds !== undefined && slotSeconds < offset)
    throw new Error(`slot of ${slotSeconds}s is shorter than the ${offset}s its iperf3 windows need`);
  return { slotSeconds: slotSeconds ?? Math.max(offset, 1), windows };
}

/** Slots per sweep: one per tournament round, stretched so sweeps start no more often than the interval. */
export function sweepSlots(rounds: number, intervalSeconds: number, slotSeconds: number): number {
  return Math.max(rounds, Math.ceil(intervalSeconds / slotSeconds), 1);
}

export interface PlannedTest {
  job: number;
  target: string;
  slotIndex: number;
  window: ScheduleWindow;
  /** Unix seconds the window opens and closes. */
  startsAt: number;
  endsAt: number;
}

/**
 * The tests `self` runs as client in slot `slotIndex`. `nodes` must be the same sorted list on
 * every agent (self included); targets outside a job's `targets` are skipped but keep their place.
 */
export function testsInSlot(opts: {
  nodes: readonly string[];
  self: string;
  jobs: readonly Iperf3Job[];
  plan: SlotPlan;
  slotIndex: number;
  rounds?: Pairing[][];
}): PlannedTest[] {
  const { nodes, self, jobs, plan, slotIndex } = opts;
  const me = nodes.indexOf(self);
  if (me < 0 || nodes.length < 2) return [];
  const rounds = opts.rounds ?? roundRobinRounds(nodes.length);
  const slotStart = slotIndex * plan.slotSeconds;
  const out: PlannedTest[] = [];
  for (const window of plan.windows) {
    const job = jobs[window.job]!;
    const sweep = sweepSlots(rounds.length, job.interval, plan.slotSeconds);
    const r = mod(slotIndex, sweep);
    if (r >= rounds.length) continue; // idle slot between sweeps
    const other = opponentIn(rounds[r]!, me);
    if (other === undefined) continue; // bye
    const iSend = window.phase === 0 ? me < other : me > other;
    if (!iSend) continue;
    const target = nodes[other]!;
    if (job.targets !== 'all' && !job.targets.includes(target)) continue;
    const startsAt = slotStart + window.offset;
    out.push({ job: window.job, target, slotIndex, window, startsAt, endsAt: startsAt + window.length });
  }
  return out;
}

/**
 * The end (unix seconds) of the last bandwidth test between `self` and `peer` that may load the
 * link during [from, to], or undefined when none does. RTT probes wait for it: a ping that shares
 * the link with our own iperf3 test measures the queue the test fills, not the link. A test may
 * run anywhere in its window but the tail (WINDOW_TAIL_SECONDS, kept free by the retry rule), so
 * a probe fits into the tail between a pair's two windows. Both directions count, whatever a
 * job's targets.
 */
export function bandwidthBusyUntil(
  opts: { nodes: readonly string[]; self: string; jobs: readonly Iperf3Job[]; plan: SlotPlan; rounds?: Pairing[][] },
  peer: string,
  from: number,
  to: number,
): number | undefined {
  const { nodes, jobs, plan } = opts;
  const me = nodes.indexOf(opts.self);
  const other = nodes.indexOf(peer);
  if (me < 0 || other < 0 || me === other) return undefined;
  const rounds = opts.rounds ?? roundRobinRounds(nodes.length);
  let until: number | undefined;
  for (let k = slotIndexAt(from, plan.slotSeconds); k <= slotIndexAt(to, plan.slotSeconds); k++)
    for (const w of plan.windows) {
      const job = jobs[w.job];
      if (!job) continue;
      const r = mod(k, sweepSlots(rounds.length, job.interval, plan.slotSeconds));
      if (r >= rounds.length || opponentIn(rounds[r]!, me) !== other) continue;
      const start = k * plan.slotSeconds + w.offset;
      const end = start + w.length - WINDOW_TAIL_SECONDS;
      if (from < end && to > start) until = Math.max(until ?? end, end);
    }
  return until;
}

/** Index of the slot containing unix time `now` (seconds). */
export const slotIndexAt = (now: number, slotSeconds: number): number => Math.floor(now / slotSeconds);

function mod(a: number, n: number): number {
  return ((a % n) + n) % n;
}
