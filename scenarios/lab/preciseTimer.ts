// Runs callbacks at precise times. Node's timers fire up to ~1 ms late (millisecond clock,
// epoll timeout granularity), more than the lab's accuracy budget, so: sleep with setTimeout
// until `spinMs` before the earliest due time, then poll with setImmediate (which still serves
// I/O between polls) until it is due. The poll costs CPU only in those last `spinMs`.
import { performance } from 'node:perf_hooks';
import { MinHeap } from './minHeap.js';

export interface PreciseTimerOptions {
  /** Milliseconds before a due time at which sleeping stops and polling starts. */
  spinMs?: number;
  /** Clock in milliseconds (performance.now by default). */
  now?: () => number;
}

export class PreciseTimer<T> {
  private readonly heap = new MinHeap<T>();
  private timer: NodeJS.Timeout | undefined;
  private timerFor = Infinity;
  private polling = false;
  private closed = false;
  private readonly spinMs: number;
  private readonly now: () => number;

  /** `run(item, dueMs, nowMs)` is called once per item, in due order, at or just after dueMs. */
  constructor(
    private readonly run: (item: T, dueMs: number, nowMs: number) => void,
    opts: PreciseTimerOptions = {},
  ) {
    this.spinMs = opts.spinMs ?? 1.5;
    this.now = opts.now ?? (() => performance.now());
  }

  get pending(): number {
    return this.heap.size;
  }

  at(dueMs: number, item: T): void {
    if (this.closed) return;
    this.heap.push(dueMs, item);
    if (!this.polling && dueMs < this.timerFor) this.arm();
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.heap.clear();
  }

  private arm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerFor = Infinity;
    const next = this.heap.peekKey();
    if (next === undefined || this.closed) return;
    const sleep = next - this.now() - this.spinMs;
    if (sleep >= 1) {
      this.timerFor = next;
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.timerFor = Infinity;
        this.arm();
      }, Math.floor(sleep));
    } else if (!this.polling) {
      this.polling = true;
      setImmediate(this.poll);
    }
  }

  private readonly poll = (): void => {
    this.polling = false;
    if (this.closed) return;
    const now = this.now();
    for (let key = this.heap.peekKey(); key !== undefined && key <= now; key = this.heap.peekKey()) {
      const e = this.heap.pop()!;
      this.run(e.value, e.key, now);
    }
    this.arm();
  };
}
