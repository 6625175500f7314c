// Hot reload. Watches the config file's directory, not the file: Kubernetes updates a mounted
// ConfigMap by swapping a `..data` symlink, which a watch on the old file would never see.
// Events are debounced; a file whose text did not change is ignored; a new text is validated
// and handed over only when valid. A deleted or invalid file leaves the running config alone.
// A missing file is warned about at once, then at most once a minute however many events come
// (a busy directory such as /tmp has many), and its return is logged.
import { watch, type FSWatcher } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ConfigError, readConfigText } from '../src/config/loadYaml.js';
import type { AgentConfig } from './config.js';
import { parseAgentConfigText } from './configFile.js';
import type { Logger } from '../src/log.js';

export interface ConfigWatcherOptions {
  file: string;
  /** Text of the config currently running (changes are detected against it). */
  initialText: string;
  log: Logger;
  onConfig(cfg: AgentConfig, text: string): Promise<void> | void;
  onInvalid?(error: string): void;
  debounceMs?: number;
  /** A file that stays unreadable is warned about again at most this often (default 60 s). */
  missingWarnEveryMs?: number;
}

/** Default of ConfigWatcherOptions.missingWarnEveryMs. */
export const MISSING_WARN_EVERY_MS = 60_000;

export class ConfigWatcher {
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private retry: NodeJS.Timeout | undefined;
  private current: string;
  private busy: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly file: string;
  /** While the file cannot be read: since when, the last warning, checks not warned about since. */
  private missing: { since: number; warnedAt: number; quiet: number } | undefined;

  constructor(private readonly opts: ConfigWatcherOptions) {
    this.file = resolve(opts.file);
    this.current = opts.initialText;
  }

  start(): void {
    const dir = dirname(this.file);
    try {
      // ConfigMap swaps touch `..data` and timestamped dirs, not the file's name: any event in the
      // directory triggers a (debounced) check, and an unchanged text is ignored.
      this.watcher = watch(dir, { persistent: false }, () => this.schedule());
      this.watcher.on('error', (err) => {
        this.opts.log.warn({ err: err.message, dir }, 'config watch failed; retrying');
        this.rewatch();
      });
    } catch (err) {
      this.opts.log.warn({ err: (err as Error).message, dir }, 'cannot watch the config directory; retrying');
      this.rewatch();
    }
  }

  stop(): void {
    this.closed = true;
    clearTimeout(this.timer);
    clearTimeout(this.retry);
    this.watcher?.close();
  }

  /** Checks the file now (also used by tests and SIGHUP). */
  check(): Promise<void> {
    this.busy = this.busy.then(() => this.reload());
    return this.busy;
  }

  private schedule(): void {
    if (this.closed) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.check(), this.opts.debounceMs ?? 300);
  }

  private rewatch(): void {
    this.watcher?.close();
    this.watcher = undefined;
    if (this.closed) return;
    this.retry = setTimeout(() => {
      if (!this.closed) {
        this.start();
        this.schedule();
      }
    }, 5000);
  }

  /** First failure: a warning at once; then one at most every missingWarnEveryMs, saying how many checks it stands for. */
  private reportMissing(code: string | undefined): void {
    const now = Date.now();
    const every = this.opts.missingWarnEveryMs ?? MISSING_WARN_EVERY_MS;
    const m = this.missing;
    if (!m) {
      this.missing = { since: now, warnedAt: now, quiet: 0 };
      this.opts.log.warn({ file: this.file, code }, 'config file cannot be read (deleted?); keeping the running config');
    } else if (now - m.warnedAt >= every) {
      this.opts.log.warn(
        { file: this.file, code, missingForSeconds: Math.round((now - m.since) / 1000), checksSinceLastWarning: m.quiet + 1 },
        'config file still cannot be read; keeping the running config',
      );
      m.warnedAt = now;
      m.quiet = 0;
    } else {
      m.quiet++;
    }
  }

  private async reload(): Promise<void> {
    if (this.closed) return;
    const { log } = this.opts;
    let text: string;
    try {
      text = await readConfigText(this.file);
    } catch (err) {
      this.reportMissing((err as NodeJS.ErrnoException).code);
      return;
    }
    if (this.missing) {
      log.info({ file: this.file, missingForSeconds: Math.round((Date.now() - this.missing.since) / 1000) }, 'config file is readable again');
      this.missing = undefined;
    }
    if (text === this.current) return;
    let cfg: AgentConfig;
    try {
      cfg = parseAgentConfigText(text, this.file).config;
    } catch (err) {
      const message = err instanceof ConfigError ? err.message : String(err);
      log.error({ file: this.file, problems: err instanceof ConfigError ? err.problems : [message] }, 'new config is invalid; keeping the running config');
      // Remember the bad text so the same broken file is reported once, not on every event.
      this.current = text;
      this.opts.onInvalid?.(message);
      return;
    }
    this.current = text;
    try {
      await this.opts.onConfig(cfg, text);
    } catch (err) {
      log.error({ err: String(err) }, 'applying the new config failed');
    }
  }
}
