// Waits for the network interface the agent measures through (config `interface`, the original
// LPM's `probeInterface`): in an L2S-M switch pod it is an OVS port that the switch creates after
// the pod, and so the agent, has started. Polls /sys/class/net/NAME (the network namespace's own
// view: a container's /sys, or `ip netns exec`'s remount) and reports every change, so the agent
// starts its iperf3 servers and timers when the interface appears and stops them if it goes.
import { access } from 'node:fs/promises';
import { join } from 'node:path';

/** Whether interface `name` exists in this network namespace. */
export async function interfaceExists(name: string, sysNet = '/sys/class/net'): Promise<boolean> {
  if (name.includes('/') || name === '.' || name === '..') return false;
  try {
    await access(join(sysNet, name));
    return true;
  } catch {
    return false;
  }
}

export class InterfaceWatch {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private state: boolean | undefined;

  constructor(
    readonly name: string,
    private readonly onChange: (present: boolean) => void,
    private readonly pollMs = 1000,
    private readonly exists: (name: string) => Promise<boolean> = interfaceExists,
  ) {}

  /** True/false once checked; undefined before the first check. */
  get present(): boolean | undefined {
    return this.state;
  }

  /** Checks once now (the first result is reported too), then keeps polling. */
  async start(): Promise<boolean> {
    this.stopped = false;
    await this.check();
    return this.state === true;
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private async check(): Promise<void> {
    if (this.stopped) return;
    const now = await this.exists(this.name);
    if (this.stopped) return;
    if (now !== this.state) {
      this.state = now;
      this.onChange(now);
    }
    this.timer = setTimeout(() => void this.check(), this.pollMs);
  }
}
