// A pod's workload in the lab: a command run inside its node's network namespace, so it sends and
// receives over the emulated overlay with the node's overlay address (the pod IP the hollow
// kubelet reports). Nothing runs unless the pod asks, with the annotation
//
//   lpm.l2sm.io/lab-command: '["iperf3", "-s"]'   a JSON list: the argument vector, run as is
//   lpm.l2sm.io/lab-command: container            the first container's command + args
//
// An annotation, not the container command by default: pod specs written for a cluster name
// images whose commands do not exist on this machine, and the lab must not run them by surprise.
// The process runs in its own process group (`ip netns exec NS argv...`, through execa with an
// argument array, never a shell); stopping it signals the whole group.
import type { V1Pod } from '@kubernetes/client-node';
import { execa } from 'execa';
import { inNetns } from '../ip.js';

export const LAB_COMMAND_ANNOTATION = 'lpm.l2sm.io/lab-command';

export type WorkloadSpec =
  | { kind: 'none' }
  | { kind: 'command'; argv: string[]; env: Record<string, string>; container: string }
  | { kind: 'invalid'; error: string };

const USAGE = `${LAB_COMMAND_ANNOTATION}: give a JSON list of strings, e.g. '["iperf3", "-s"]', or "container" (the first container's command and args)`;

/** What the pod asks the lab to run (pure). */
export function podWorkload(pod: V1Pod): WorkloadSpec {
  const value = pod.metadata?.annotations?.[LAB_COMMAND_ANNOTATION];
  if (value === undefined) return { kind: 'none' };
  const container = pod.spec?.containers?.[0];
  const env: Record<string, string> = {};
  for (const e of container?.env ?? []) if (e.value !== undefined) env[e.name] = e.value;
  const text = value.trim();
  let argv: unknown;
  if (text === 'container') {
    argv = [...(container?.command ?? []), ...(container?.args ?? [])];
    if ((argv as string[]).length === 0)
      return { kind: 'invalid', error: `${LAB_COMMAND_ANNOTATION}: "container", but the first container has no command or args` };
  } else if (text.startsWith('[')) {
    try {
      argv = JSON.parse(text);
    } catch (err) {
      return { kind: 'invalid', error: `${LAB_COMMAND_ANNOTATION}: invalid JSON (${(err as Error).message}); ${USAGE}` };
    }
  } else {
    return { kind: 'invalid', error: USAGE };
  }
  if (!Array.isArray(argv) || argv.length === 0 || !argv.every((a) => typeof a === 'string') || (argv[0] as string) === '')
    return { kind: 'invalid', error: `${LAB_COMMAND_ANNOTATION}: not a non-empty list of strings; ${USAGE}` };
  return { kind: 'command', argv, env, container: container?.name ?? '' };
}

export interface WorkloadExit {
  exitCode: number;
  /** Set when a signal ended it. */
  signal?: string;
  startedAt: Date;
  finishedAt: Date;
}

/** One run of a workload command inside a namespace. */
export class Workload {
  readonly pid: number;
  readonly startedAt = new Date();
  /** Resolves when the process has exited (never rejects). */
  readonly exited: Promise<WorkloadExit>;
  private done = false;

  constructor(netns: string, argv: string[], env: Record<string, string>, logFile: string) {
    const [cmd, args] = inNetns(netns, argv);
    // `ip netns exec` execs the command: the PID we get is the workload's own.
    const child = execa(cmd, args, {
      detached: true,
      cleanup: false,
      reject: false,
      stdin: 'ignore',
      stdout: { file: logFile, append: true },
      stderr: { file: logFile, append: true },
      env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root', ...env },
      extendEnv: false,
    });
    if (child.pid === undefined) throw new Error(`cannot start ${argv[0]}`);
    this.pid = child.pid;
    this.exited = child.then((r) => {
      this.done = true;
      return {
        exitCode: r.exitCode ?? (r.signal ? 128 + signalNumber(r.signal) : 255),
        ...(r.signal ? { signal: r.signal } : {}),
        startedAt: this.startedAt,
        finishedAt: new Date(),
      };
    });
  }

  get running(): boolean {
    return !this.done;
  }

  private signal(sig: NodeJS.Signals): void {
    try {
      process.kill(-this.pid, sig); // the group: whatever it started goes too
    } catch {
      try {
        process.kill(this.pid, sig);
      } catch {
        /* gone */
      }
    }
  }

  /** SIGTERM, then SIGKILL after `graceSeconds`; resolves once it has exited. */
  async stop(graceSeconds: number): Promise<WorkloadExit> {
    if (this.done) return this.exited;
    this.signal('SIGTERM');
    const timer = setTimeout(() => this.signal('SIGKILL'), Math.max(0, graceSeconds) * 1000);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}

const SIGNALS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGABRT: 6, SIGKILL: 9, SIGSEGV: 11, SIGPIPE: 13, SIGTERM: 15 };
const signalNumber = (s: string) => SIGNALS[s] ?? 0;
