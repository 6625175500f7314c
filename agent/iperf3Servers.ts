// The agent's iperf3 servers: one on iperf3.port (TCP tests, and UDP tests unless there is a UDP
// port), and one on iperf3.udpPort when set (the original LPM's 5202), each supervised by
// Iperf3Server. sync() makes the running set match what the config and the interface allow:
// servers whose options changed restart, unwanted ones stop (e.g. while the interface to bind to
// is missing), and `restart` re-binds them all (an interface that came back is a new device).
import type { Logger } from '../src/log.js';
import { Iperf3Server, type Iperf3ServerEvents, type Iperf3ServerOptions } from './tools/iperf3Server.js';

const same = (a: Iperf3ServerOptions, b: Iperf3ServerOptions) =>
  a.port === b.port && a.bind === b.bind && a.bindDev === b.bindDev && a.idleTimeout === b.idleTimeout;

export class Iperf3Servers {
  private readonly byPort = new Map<number, Iperf3Server>();
  private busy: Promise<void> = Promise.resolve();

  constructor(
    private readonly log: Logger,
    /** onUp/onDown: any server; `allUp` says whether every wanted server listens now. */
    private readonly events: { onChange?(allUp: boolean): void; onRestart?(): void } = {},
  ) {}

  /** True when every wanted server listens (and there is at least one). */
  get allUp(): boolean {
    return this.byPort.size > 0 && [...this.byPort.values()].every((s) => s.up);
  }

  /** Ports of wanted servers that do not listen (yet). */
  notListening(): number[] {
    return [...this.byPort].filter(([, s]) => !s.up).map(([p]) => p);
  }

  /** Makes the running servers those of `wanted` (serialized: concurrent calls run one after the other). */
  sync(wanted: readonly Iperf3ServerOptions[], restart = false): Promise<void> {
    this.busy = this.busy.then(() => this.doSync(wanted, restart)).catch((err: unknown) => this.log.error({ err: String(err) }, 'iperf3 servers: sync failed'));
    return this.busy;
  }

  async stop(): Promise<void> {
    await this.sync([]);
  }

  private async doSync(wanted: readonly Iperf3ServerOptions[], restart: boolean): Promise<void> {
    const want = new Map(wanted.map((o) => [o.port, o]));
    for (const [port, server] of [...this.byPort]) {
      if (want.has(port)) continue;
      this.byPort.delete(port);
      await server.stop();
    }
    for (const [port, opts] of want) {
      const server = this.byPort.get(port);
      if (!server) {
        const s = new Iperf3Server(opts, this.log, this.serverEvents());
        this.byPort.set(port, s);
        s.start();
      } else if (restart || !same(server.options, opts)) {
        await server.reconfigure(opts);
      }
    }
    this.events.onChange?.(this.allUp);
  }

  private serverEvents(): Iperf3ServerEvents {
    return {
      onUp: () => this.events.onChange?.(this.allUp),
      onDown: () => this.events.onChange?.(this.allUp),
      onRestart: () => this.events.onRestart?.(),
    };
  }
}
