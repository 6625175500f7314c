// Drives the iperf3 tests through the tournament timetable of timetable.ts: a timer
// fires at the start of every window, and if this node sends in that window it runs the test.
// A "busy" answer (the target's server is taken, e.g. clocks disagree or someone else is testing)
// is retried after a random 0.5-2 s while the window still has room for a whole test.
import {
  planSlot,
  quietGapSeconds,
  quietProbeStart,
  slotIndexAt,
  testsInSlot,
  WINDOW_TAIL_SECONDS,
  type Iperf3Job,
  type PlannedTest,
  type SlotPlan,
} from './timetable.js';
import type { MeasurementResult } from '../../src/linkMetrics.js';
import { roundRobinRounds, type Pairing } from './tournament.js';

export interface BandwidthContext {
  /** Sorted node list, self included: must be the same on every agent. */
  nodes: string[];
  self: string;
  jobs: Iperf3Job[];
  /** Explicit slot length (config iperf3.slot). */
  slotSeconds?: number;
  /** The longest RTT probe run (seconds): every window is followed by a quiet gap it fits into. */
  probeSeconds?: number;
}

/** Runs one attempt; returns its result so busy answers can be retried. */
export type BandwidthRunner = (test: PlannedTest, attempt: number) => Promise<MeasurementResult>;

export class BandwidthWindowTimer {
  private ctx: BandwidthContext | undefined;
  private plan: SlotPlan | undefined;
  private rounds: Pairing[][] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly running = new Set<Promise<void>>();
  private stopped = false;

  constructor(
    private readonly run: BandwidthRunner,
    private readonly now: () => number = () => Date.now() / 1000,
    private readonly random: () => number = Math.random,
  ) {}

  get slotPlan(): SlotPlan | undefined {
    return this.plan;
  }

  update(ctx: BandwidthContext): void {
    this.ctx = ctx;
    this.plan = ctx.jobs.length > 0 ? planSlot(ctx.jobs, ctx.slotSeconds, quietGapSeconds(ctx.probeSeconds ?? 0)) : undefined;
    this.rounds = roundRobinRounds(ctx.nodes.length);
    clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.stopped) this.armNext();
  }

  /**
   * Earliest start >= `from` (unix seconds) of an RTT probe to `target` lasting `runSeconds` that
   * overlaps no window in which this node or the target tests, `guard` seconds kept clear either
   * side (see quietProbeStart); `from` itself without a timetable.
   */
  quietStart(target: string, from: number, runSeconds: number, guard?: number): number | undefined {
    if (!this.ctx || !this.plan) return from;
    return quietProbeStart({ ...this.ctx, plan: this.plan, rounds: this.rounds }, target, from, runSeconds, guard);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await Promise.allSettled([...this.running]);
  }

  /** Waits for the next window start strictly after now. */
  private armNext(): void {
    const plan = this.plan;
    if (!plan || !this.ctx || this.ctx.nodes.length < 2) return;
    const now = this.now();
    const k = slotIndexAt(now, plan.slotSeconds);
    let next: { slot: number; startsAt: number } | undefined;
    for (const slot of [k, k + 1])
      for (const w of plan.windows) {
        const startsAt = slot * plan.slotSeconds + w.offset;
        if (startsAt > now && (!next || startsAt < next.startsAt)) next = { slot, startsAt };
      }
    if (!next) return;
    const target = next;
    this.timer = setTimeout(() => this.fire(target.slot, target.startsAt), (target.startsAt - now) * 1000);
  }

  private fire(slot: number, startsAt: number): void {
    this.timer = undefined;
    if (this.stopped || !this.ctx || !this.plan) return;
    const tests = testsInSlot({ ...this.ctx, plan: this.plan, slotIndex: slot, rounds: this.rounds }).filter(
      (t) => Math.abs(t.startsAt - startsAt) < 1e-6,
    );
    for (const t of tests) {
      const p = this.runWithRetries(t).finally(() => this.running.delete(p));
      this.running.add(p);
    }
    this.armNext();
  }

  private async runWithRetries(test: PlannedTest): Promise<void> {
    const job = this.ctx?.jobs[test.job];
    if (!job) return;
    // a retry must end before the window's tail: the quiet gap after it belongs to the RTT probes
    const needs = job.duration + job.omit + WINDOW_TAIL_SECONDS;
    for (let attempt = 1; ; attempt++) {
      const result = await this.run(test, attempt);
      if (result !== 'busy' || this.stopped) return;
      const wait = 0.5 + 1.5 * this.random();
      if (this.now() + wait + needs > test.endsAt) return; // no room left: the next sweep tries again
      await new Promise((r) => setTimeout(r, wait * 1000));
      if (this.stopped) return;
    }
  }
}
