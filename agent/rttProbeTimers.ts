// RTT probes are light, so each (rtt metric, target) pair runs on its own timer: a random first
// delay spreads the probes of many agents, and every interval is jittered by +-10% so they do
// not fall into step. A pair never overlaps itself: the next run is timed from the start of the
// previous one, or starts right after it when the run took longer than the interval.
// A run never overlaps a bandwidth window in which this node or the target is client or server:
// our own iperf3 traffic fills the queues (ours, the target's, and on the way) and would inflate
// the RTT. The timetable leaves a quiet gap after every window; a run due in a busy window waits
// for the next gap it fits into (`quietStart`), at most one window plus one gap.
import { PROBE_GUARD_SECONDS } from './bandwidth/timetable.js';

export interface RttJob {
  /** Identity of the job: metric config, target and address. Same key = keep the timer. */
  key: string;
  target: string;
  address: string;
  interval: number;
  /** Seconds one run takes, for the overlap check: count x spacing + up to 0.5 s for the last reply. */
  runSeconds: number;
}

type Runner = (job: RttJob) => Promise<void>;

/**
 * Earliest start (unix seconds) >= `from` of a run of `job` that overlaps no busy window, keeping
 * `guard` seconds clear either side (the timetable's default when undefined); undefined when the
 * timetable has no room for it at all.
 */
export type QuietStart = (job: RttJob, from: number, guard?: number) => number | undefined;

interface Entry {
  job: RttJob;
  timer: NodeJS.Timeout | undefined;
  running: Promise<void> | undefined;
  cancelled: boolean;
  /** Start (unix seconds) the timer was last armed for, in a quiet gap. */
  planned: number | undefined;
}

export class RttProbeTimers {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly run: Runner,
    private readonly random: () => number = Math.random,
    /** Where a run may start (no constraint by default). */
    private readonly quietStart: QuietStart = (_job, from) => from,
  ) {}

  /** Keeps timers whose job is unchanged, stops the others and starts new ones. */
  update(jobs: readonly RttJob[]): void {
    const wanted = new Map(jobs.map((j) => [j.key, j]));
    for (const [key, e] of this.entries)
      if (!wanted.has(key)) {
        e.cancelled = true;
        clearTimeout(e.timer);
        this.entries.delete(key);
      }
    for (const [key, job] of wanted) {
      if (this.entries.has(key)) continue;
      const e: Entry = { job, timer: undefined, running: undefined, cancelled: false, planned: undefined };
      this.entries.set(key, e);
      this.arm(e, this.random() * Math.min(job.interval, 10));
    }
  }

  keys(): string[] {
    return [...this.entries.keys()];
  }

  /** Stops every timer and waits for runs in progress (the caller aborts them). */
  async stop(): Promise<void> {
    const running: Array<Promise<void>> = [];
    for (const e of this.entries.values()) {
      e.cancelled = true;
      clearTimeout(e.timer);
      if (e.running) running.push(e.running);
    }
    this.entries.clear();
    await Promise.allSettled(running);
  }

  private arm(e: Entry, delaySeconds: number): void {
    e.timer = setTimeout(() => void this.fire(e), Math.max(0, delaySeconds * 1000));
  }

  private async fire(e: Entry): Promise<void> {
    e.timer = undefined;
    if (e.cancelled) return;
    const now = Date.now() / 1000;
    // Woken for a planned start: a timer a little late (less than the guard) still ends before
    // the next window, so only the windows themselves count then, not the guards around them.
    const planned = e.planned;
    e.planned = undefined;
    const late = planned !== undefined && now >= planned - 0.001 && now - planned < PROBE_GUARD_SECONDS;
    const start = this.quietStart(e.job, now, late ? 0 : undefined);
    if (start === undefined) {
      // no quiet time in sight (a timetable without gaps): skip this run rather than measure our own test
      this.arm(e, e.job.interval);
      return;
    }
    if (start > now + 0.001) {
      e.planned = start;
      this.arm(e, start - now);
      return;
    }
    const started = Date.now();
    e.running = this.run(e.job).catch(() => undefined);
    await e.running;
    e.running = undefined;
    if (e.cancelled) return;
    const next = e.job.interval * (0.9 + 0.2 * this.random());
    this.arm(e, next - (Date.now() - started) / 1000);
  }
}
