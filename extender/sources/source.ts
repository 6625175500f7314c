// Where the link matrix comes from. Every source (static, direct agent scrapes, Prometheus) is the
// same small interface: build a fresh LinkMatrix, or throw. MatrixCache runs it in the background
// and keeps the last good matrix when a refresh fails; the scheduling path only reads `current`.
// The traffic source (bytes/s between apps) is a source of another matrix type, cached the same way.
import type { LinkMatrix } from '../../src/linkMatrix.js';
import type { Logger } from '../../src/log.js';

export interface MetricSource<T = LinkMatrix> {
  /** Label of lpm_extender_source_refreshes_total: static, direct, prometheus, traffic. */
  readonly type: string;
  /** Seconds between refreshes. */
  readonly interval: number;
  /** Builds a fresh matrix; throws on failure. Values keep their own measurement timestamps. */
  fetch(signal: AbortSignal): Promise<T>;
  /** Per-target detail for the extender's GET /api/v1/matrix (e.g. each agent's last scrape). */
  status?(): unknown;
}

export interface MatrixSnapshot<T = LinkMatrix> {
  matrix: T;
  /** Unix seconds of the refresh that produced it. */
  refreshedAt: number;
}

export interface MatrixCacheOptions {
  logger?: Logger;
  /** Called after every refresh attempt (metrics). */
  onRefresh?: (type: string, result: 'success' | 'error') => void;
  /** Refresh timeout in seconds (default: the interval, at most 30 s). */
  timeout?: number;
  /** What the logs call the matrix (default "link matrix"). */
  what?: string;
}

export class MatrixCache<T extends { readonly size: number } = LinkMatrix> {
  private snapshot: MatrixSnapshot<T> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<boolean> | undefined;
  private stopped = false;
  private abort = new AbortController();
  lastError: { message: string; at: number } | undefined;

  constructor(
    readonly source: MetricSource<T>,
    private readonly opts: MatrixCacheOptions = {},
  ) {}

  /** The last good matrix, or undefined before the first successful refresh. */
  get current(): MatrixSnapshot<T> | undefined {
    return this.snapshot;
  }

  /** One refresh now (concurrent callers share it). Resolves true on success; never rejects. */
  refresh(): Promise<boolean> {
    this.running ??= this.doRefresh().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async doRefresh(): Promise<boolean> {
    const timeoutMs = (this.opts.timeout ?? Math.min(30, Math.max(1, this.source.interval))) * 1000;
    const signal = AbortSignal.any([this.abort.signal, AbortSignal.timeout(timeoutMs)]);
    try {
      const matrix = await this.source.fetch(signal);
      this.snapshot = { matrix, refreshedAt: Date.now() / 1000 };
      this.lastError = undefined;
      this.opts.onRefresh?.(this.source.type, 'success');
      this.opts.logger?.debug({ source: this.source.type, links: matrix.size }, `${this.opts.what ?? 'link matrix'} refreshed`);
      return true;
    } catch (err) {
      if (this.stopped) return false;
      const message = (err as Error).message;
      this.lastError = { message, at: Date.now() / 1000 };
      this.opts.onRefresh?.(this.source.type, 'error');
      this.opts.logger?.warn(
        { source: this.source.type, err: message, keeping: this.snapshot ? 'last good matrix' : 'no matrix yet' },
        `${this.opts.what ?? 'link matrix'} refresh failed`,
      );
      return false;
    }
  }

  /** Refreshes now and then every interval (never overlapping). */
  start(): void {
    this.stopped = false;
    // refresh() never rejects, so the loop runs unawaited (void) from here and from its timer.
    const loop = async () => {
      await this.refresh();
      if (!this.stopped) this.timer = setTimeout(() => void loop(), this.source.interval * 1000);
    };
    void loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.abort.abort();
    await this.running;
    this.abort = new AbortController();
  }
}
