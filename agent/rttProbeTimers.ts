// RTT probes are light, so each (rtt metric, target) pair runs on its own timer: a random first
// delay spreads the probes of many agents, and every interval is jittered by +-10% so they do
// not fall into step. A pair never overlaps itself: the next run is timed from the start of the
// previous one, or starts right after it when the run took longer than the interval.
// A run that would overlap a bandwidth test with the same peer waits until that test is over
// (`defer`): our own iperf3 traffic would fill the link's queue and inflate the RTT. It waits two
// intervals at most in all, so a link under test is still probed often enough not to go stale.

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

interface Entry {
  job: RttJob;
  timer: NodeJS.Timeout | undefined;
  running: Promise<void> | undefined;
  cancelled: boolean;
  /** When the current run was first deferred (unix ms), so a peer tested back to back still gets probed. */
  deferredSince: number | undefined;
}

export class RttProbeTimers {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly run: Runner,
    private readonly random: () => number = Math.random,
    /** Seconds to wait before running `job` now, if it must not run yet. */
    private readonly defer: (job: RttJob) => number | undefined = () => undefined,
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
      const e: Entry = { job, timer: undefined, running: undefined, cancelled: false, deferredSince: undefined };
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
    const wait = this.defer(e.job);
    e.deferredSince ??= Date.now();
    // Defer at most two intervals in all: with back-to-back bandwidth tests a loaded RTT beats none.
    const budget = 2 * e.job.interval - (Date.now() - e.deferredSince) / 1000;
    if (wait !== undefined && wait > 0 && budget > 0) {
      this.arm(e, Math.min(wait + 0.2 * this.random(), budget));
      return;
    }
    e.deferredSince = undefined;
    const started = Date.now();
    e.running = this.run(e.job).catch(() => undefined);
    await e.running;
    e.running = undefined;
    if (e.cancelled) return;
    const next = e.job.interval * (0.9 + 0.2 * this.random());
    this.arm(e, next - (Date.now() - started) / 1000);
  }
}
