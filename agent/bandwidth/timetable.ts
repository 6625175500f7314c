// When each iperf3 test runs. Time is cut into slots aligned to the unix epoch; slot k plays
// round (k mod sweep length) of the round-robin tournament over the sorted node list (self and
// targets), so every agent with the same config and node list derives the same timetable without
// talking to the others. Inside a slot every iperf3 measurement type gets two windows: in the
// first the lower-sorted node of each pair sends to the other, in the second the other way round.
// A node is thus client or server of at most one test at any moment. After every window comes a
// quiet gap in which no node runs a test: the RTT probes of nodes that are busy in the windows
// run there (quietProbeStart), so no RTT is ever measured through our own bandwidth test.
import type { MeasurementType } from '../../src/linkMetrics.js';
import { opponentIn, roundRobinRounds, type Pairing } from './tournament.js';

/** Time a window needs beyond the test itself: process start, connect, result exchange, clock skew. */
export const WINDOW_MARGIN_SECONDS = 3;
/** The end of every window that no test loads: a retried test starts only if it ends before it. */
export const WINDOW_TAIL_SECONDS = WINDOW_MARGIN_SECONDS / 2;
/**
 * Seconds an RTT probe keeps clear of a busy window on either side: timer lateness, the ping
 * process starting, a test running a little past its window, clock skew between agents.
 */
export const PROBE_GUARD_SECONDS = 0.5;

/**
 * The quiet gap after every window for a probe of `probeSeconds` (the longest RTT run): the run
 * plus a guard either side, rounded up to 0.5 s. 0 when there are no RTT probes.
 */
export function quietGapSeconds(probeSeconds: number): number {
  if (!(probeSeconds > 0)) return 0;
  return Math.ceil((probeSeconds + 2 * PROBE_GUARD_SECONDS) * 2) / 2;
}

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
  /** Seconds after every window in which no node tests: where the RTT probes of busy nodes run. */
  quietSeconds: number;
}

/** Minimum window length for a job. */
export const windowSeconds = (job: Pick<Iperf3Job, 'duration' | 'omit'>): number =>
  job.duration + job.omit + WINDOW_MARGIN_SECONDS;

/** Seconds a slot needs: every job's two windows, each followed by the quiet gap. */
export const slotNeedsSeconds = (jobs: ReadonlyArray<Pick<Iperf3Job, 'duration' | 'omit'>>, quietSeconds = 0): number =>
  jobs.reduce((sum, job) => sum + 2 * (windowSeconds(job) + quietSeconds), 0);

/**
 * Lays out the windows of one slot: window, quiet gap, window, quiet gap, ... An explicit slot
 * length must fit them all; what it has beyond that stays idle at the end of the slot.
 */
export function planSlot(jobs: readonly Iperf3Job[], slotSeconds?: number, quietSeconds = 0): SlotPlan {
  const windows: ScheduleWindow[] = [];
  let offset = 0;
  jobs.forEach((job, i) => {
    for (const phase of [0, 1] as const) {
      const length = windowSeconds(job);
      windows.push({ job: i, phase, offset, length });
      offset += length + quietSeconds;
    }
  });
  if (slotSeconds !== undefined && slotSeconds < offset)
    throw new Error(`slot of ${slotSeconds}s is shorter than the ${offset}s its iperf3 windows and quiet gaps need`);
  return { slotSeconds: slotSeconds ?? Math.max(offset, 1), windows, quietSeconds };
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

type TimetableOpts = { nodes: readonly string[]; self: string; jobs: readonly Iperf3Job[]; plan: SlotPlan; rounds?: Pairing[][] };

/**
 * The windows (unix seconds, in order of start) of slots `fromSlot`..`toSlot` in which any node of
 * `who` (indices into the node list) is client or server of a test. A window counts whatever a
 * job's `targets` say: another agent's config decides what it sends, so assume the worst.
 */
export function* busyWindows(
  opts: Pick<TimetableOpts, 'jobs' | 'plan'> & { rounds: Pairing[][] },
  who: readonly number[],
  fromSlot: number,
  toSlot: number,
): Generator<[number, number]> {
  const { jobs, plan, rounds } = opts;
  if (rounds.length === 0) return;
  for (let k = fromSlot; k <= toSlot; k++)
    for (const w of plan.windows) {
      const job = jobs[w.job];
      if (!job) continue;
      const r = mod(k, sweepSlots(rounds.length, job.interval, plan.slotSeconds));
      if (r >= rounds.length) continue; // idle slot between sweeps
      if (!who.some((i) => opponentIn(rounds[r]!, i) !== undefined)) continue;
      const start = k * plan.slotSeconds + w.offset;
      yield [start, start + w.length];
    }
}

/**
 * The earliest time t >= `from` (unix seconds) at which an RTT probe between `self` and `target`
 * taking `runSeconds` can start such that [t - guard, t + runSeconds + guard] overlaps no window
 * in which either node is client or server of a bandwidth test. With quiet gaps of at least
 * runSeconds + 2 guards (quietGapSeconds) the wait is at most one window plus one gap. Undefined
 * when the timetable has no such room within a full cycle of sweeps (no quiet gaps, back-to-back
 * sweeps): the probe has nowhere to go without measuring our own test.
 */
export function quietProbeStart(
  opts: TimetableOpts,
  target: string,
  from: number,
  runSeconds: number,
  guard = PROBE_GUARD_SECONDS,
): number | undefined {
  const { nodes, jobs, plan } = opts;
  const me = nodes.indexOf(opts.self);
  const other = nodes.indexOf(target);
  const who = [me, other].filter((i) => i >= 0);
  const rounds = opts.rounds ?? roundRobinRounds(nodes.length);
  if (who.length === 0 || rounds.length === 0 || plan.windows.length === 0) return from;
  const eps = 1e-9;
  // enough slots to pass every job's sweep once, plus one for a window straddling `from`
  const horizon = Math.min(10_000, Math.max(...jobs.map((j) => sweepSlots(rounds.length, j.interval, plan.slotSeconds))) + 2);
  const first = slotIndexAt(from - guard, plan.slotSeconds) - 1;
  let t = from;
  for (const [start, end] of busyWindows({ jobs, plan, rounds }, who, first, first + horizon)) {
    if (end + guard <= t + eps) continue; // over before the probe starts
    if (t + runSeconds + guard <= start + eps) return t; // the probe fits before this window
    t = Math.max(t, end + guard);
  }
  return t + runSeconds + guard <= (first + horizon + 1) * plan.slotSeconds + eps ? t : undefined;
}

/** Index of the slot containing unix time `now` (seconds). */
export const slotIndexAt = (now: number, slotSeconds: number): number => Math.floor(now / slotSeconds);

function mod(a: number, n: number): number {
  return ((a % n) + n) % n;
}
