// What one directed link does to a packet, as a pure function of time: random loss, a rate
// limiter (serialization at `rate` behind a bounded queue, tail drop) and delay ± jitter that
// never reorders. Times are in seconds on any monotonic clock; the emulator feeds it real time.
import { withDefaults, type LinkProperties, type LinkPropertiesPatch } from '../topology.js';

export type DropReason = 'loss' | 'queue';
export type Verdict = { drop: DropReason } | { due: number };

export class LinkShaper {
  /** When the rate limiter has sent everything queued so far. */
  private linkFree = 0;
  /** Due time of the previous packet: a later packet never leaves before it (no reordering). */
  private lastDue = 0;

  constructor(
    private current: LinkProperties,
    private readonly random: () => number = Math.random,
  ) {}

  get properties(): LinkProperties {
    return { ...this.current };
  }

  /** Changes take effect for the next packet; packets already scheduled keep their times. */
  update(patch: LinkPropertiesPatch): LinkProperties {
    this.current = withDefaults(this.current, patch);
    return this.properties;
  }

  /** When the rate limiter has sent everything queued so far (same clock as `admit`). */
  get freeAt(): number {
    return this.linkFree;
  }

  /** Seconds a packet arriving now would wait before its serialization starts. */
  backlog(now: number): number {
    return Math.max(0, this.linkFree - now);
  }

  /** Decides the fate of a packet of `bytes` arriving at `now`: dropped, or when it leaves. */
  admit(now: number, bytes: number): Verdict {
    const p = this.current;
    if (p.loss > 0 && this.random() < p.loss) return { drop: 'loss' };
    let departure = now;
    if (p.rate !== null) {
      const start = Math.max(now, this.linkFree);
      if (start - now > p.queue) return { drop: 'queue' };
      departure = start + bytes / p.rate;
      this.linkFree = departure;
    }
    let delay = p.delay;
    if (p.jitter > 0) delay = Math.max(0, delay + (2 * this.random() - 1) * p.jitter);
    const due = Math.max(departure + delay, this.lastDue);
    this.lastDue = due;
    return { due };
  }
}
