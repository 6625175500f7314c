// Keeps this node's `iperf3 -s` running so the agents that measure this node can test towards it.
// If it exits it is started again after a backoff (1 s doubling to 30 s, reset once it has stayed
// up for a minute); --idle-timeout makes iperf3 drop a test whose client vanished, so one dead
// client cannot keep the server busy for everyone else.
//
// The server never outlives the agent: a clean stop kills it; execa kills it when the process
// exits otherwise; and it runs as `setpriv --pdeathsig KILL -- iperf3 ...` (util-linux, in the
// image), so the kernel kills it when the agent dies in a way no code sees (SIGKILL, OOM kill).
// Without setpriv, a server left behind that way is found and replaced by the next agent before it
// starts its own (staleIperf3.ts), which it also does in every case as a second line of defence.
import { isIP } from 'node:net';
import { execa, type ResultPromise } from 'execa';
import type { Logger } from '../../src/log.js';
import { replaceStaleIperf3 } from './staleIperf3.js';
import { bindDevName } from './iperf3Client.js';

export interface Iperf3ServerOptions {
  /** Address to bind (iperf3 -B); none: all addresses. */
  bind?: string;
  /** Interface to bind (iperf3 --bind-dev); none: any. */
  bindDev?: string;
  port: number;
  /** Seconds (iperf3 --idle-timeout takes whole seconds). */
  idleTimeout: number;
}

export interface Iperf3ServerEvents {
  onUp?(): void;
  onDown?(): void;
  onRestart?(): void;
}

const MIN_BACKOFF_MS = 1000;
const MAX_BACKOFF_MS = 30_000;
const STABLE_MS = 60_000;

export function iperf3ServerArgs(o: Iperf3ServerOptions): string[] {
  if (o.bind !== undefined && isIP(o.bind) === 0) throw new Error(`iperf3 server: bind address "${o.bind}" is not an IP address`);
  return [
    '-s',
    '-p',
    String(o.port),
    '--idle-timeout',
    String(Math.max(1, Math.ceil(o.idleTimeout))),
    '--forceflush',
    ...(o.bind ? ['-B', o.bind] : []),
    ...(o.bindDev ? ['--bind-dev', bindDevName(o.bindDev)] : []),
  ];
}

/**
 * The command prefix that makes a child die with the agent: `setpriv --pdeathsig KILL --` when
 * setpriv can do it here (checked once per process), else none.
 */
let deathSignalPrefix: Promise<string[]> | undefined;
let saidNoSetpriv = false;
export function dieWithParentPrefix(): Promise<string[]> {
  deathSignalPrefix ??= execa('setpriv', ['--pdeathsig', 'KILL', '--', 'true'], { reject: false, stdin: 'ignore', timeout: 10_000 }).then(
    (r) => (r.exitCode === 0 ? ['setpriv', '--pdeathsig', 'KILL', '--'] : []),
    () => [],
  );
  return deathSignalPrefix;
}

export class Iperf3Server {
  private proc: ResultPromise | undefined;
  /** A start in progress (the stale-server check before the spawn). */
  private starting: Promise<void> = Promise.resolve();
  private stopping = false;
  private listening = false;
  private failures = 0;
  private timer: NodeJS.Timeout | undefined;
  private exited: Promise<void> = Promise.resolve();

  constructor(
    private opts: Iperf3ServerOptions,
    private readonly log: Logger,
    private readonly events: Iperf3ServerEvents = {},
  ) {}

  get up(): boolean {
    return this.listening;
  }

  get options(): Readonly<Iperf3ServerOptions> {
    return this.opts;
  }

  start(): void {
    this.stopping = false;
    this.launch();
  }

  /** Restarts with new options (address/port/idle timeout changed in the config). */
  async reconfigure(opts: Iperf3ServerOptions): Promise<void> {
    await this.stop();
    this.opts = opts;
    this.failures = 0;
    this.start();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.starting; // a start in progress sees `stopping` and spawns nothing
    this.proc?.kill('SIGTERM');
    await this.exited;
  }

  /** Replaces a stale server holding the port, then spawns (unless stopped meanwhile). */
  private launch(): void {
    const opts = this.opts;
    this.starting = (async () => {
      const [prefix] = await Promise.all([dieWithParentPrefix(), replaceStaleIperf3({ port: opts.port, bind: opts.bind, log: this.log })]);
      if (prefix.length === 0 && !saidNoSetpriv) {
        saidNoSetpriv = true;
        this.log.warn('setpriv --pdeathsig is not available: an iperf3 server may outlive a SIGKILLed agent (the next agent replaces it)');
      }
      if (!this.stopping) this.spawn(prefix);
    })().catch((err: unknown) => this.log.error({ err: String(err) }, 'iperf3 server: start failed'));
  }

  private spawn(prefix: readonly string[]): void {
    const args = iperf3ServerArgs(this.opts);
    const startedAt = Date.now();
    this.log.info({ args }, 'starting iperf3 server');
    const [cmd, ...cmdArgs] = [...prefix, 'iperf3', ...args] as [string, ...string[]];
    const proc = execa(cmd, cmdArgs, { reject: false, stdin: 'ignore', buffer: false, forceKillAfterDelay: 2000, env: { LC_ALL: 'C' } });
    this.proc = proc;
    const onLine = (stream: 'stdout' | 'stderr') => (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n')) {
        const text = line.trim();
        if (!text || /^-+$/.test(text)) continue;
        if (!this.listening && /Server listening on/.test(text)) {
          this.listening = true;
          this.log.info({ port: this.opts.port, bind: this.opts.bind ?? '(all)', ...(this.opts.bindDev ? { bindDev: this.opts.bindDev } : {}) }, 'iperf3 server listening');
          this.events.onUp?.();
        }
        if (!this.stopping && (stream === 'stderr' || /error/i.test(text))) this.log.warn({ iperf3: text }, 'iperf3 server');
        else this.log.debug({ iperf3: text }, 'iperf3 server');
      }
    };
    proc.stdout?.on('data', onLine('stdout'));
    proc.stderr?.on('data', onLine('stderr'));
    this.exited = proc.then(
      (r) => this.onExit(r.exitCode, r.signal, startedAt, r.failed && r.exitCode === undefined ? r.shortMessage : undefined),
      (err: unknown) => this.onExit(undefined, undefined, startedAt, String(err)),
    );
  }

  private onExit(code: number | undefined, signal: string | undefined, startedAt: number, error?: string): void {
    const wasUp = this.listening;
    this.listening = false;
    this.proc = undefined;
    if (wasUp) this.events.onDown?.();
    if (this.stopping) {
      this.log.info('iperf3 server stopped');
      return;
    }
    this.failures = Date.now() - startedAt > STABLE_MS ? 1 : this.failures + 1;
    const delay = Math.min(MAX_BACKOFF_MS, MIN_BACKOFF_MS * 2 ** (this.failures - 1));
    this.log.error({ code, signal, error, restartInMs: delay }, 'iperf3 server exited; restarting');
    this.events.onRestart?.();
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!this.stopping) this.launch();
    }, delay);
  }
}
