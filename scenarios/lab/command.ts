// `lpm lab up|down|status|exec|set`: the emulated L2S-M overlay on this machine. `lab emulator`
// is internal: the link emulator process that `lab up` starts.
import { readFile } from 'node:fs/promises';
import { setPriority } from 'node:os';
import { bool, LOG_LEVEL_FLAG, str, UsageError, type CommandSpec, type ParsedArgs } from '../../src/cli/command.js';
import { ListenError } from '../../src/listen.js';
import { createLogger } from '../../src/log.js';
import { formatBandwidth, formatDuration, parseDuration } from '../../src/units.js';
import type { LinkProperties } from '../topology.js';
import { agentUrl } from './agents.js';
import { capacityWarnings, readEmulatorCapacity } from './capacity.js';
import { startEmulator } from './emulator.js';
import { emulatorStatusLines } from './emulatorStatus.js';
import { labDown, labExec, labSet, labStatus, labUp, type LabStatus } from './lab.js';
import { linkKey } from './plan.js';
import { packageRoot } from './paths.js';
import { parseSetArgs } from './setArgs.js';
import { runKubeletProcess } from './kube/kubeletProcess.js';
import { formatKubeStatus, kubeUsage } from './kube/statusText.js';
import { emulatorInfoPath, listLabs, resolveLab, writeJsonAtomic, type LabState } from './state.js';

const DETAILS = `Subcommands:
  lab up FILE [--agents] [--prometheus] [--kube [--kube-bin DIR]]
                                         create the lab described by the topology file FILE
  lab down [NAME]                        stop its processes, remove its namespaces and links
  lab status [NAME] [--json]             nodes, addresses, links (live counters), processes
  lab exec NODE [--lab NAME] -- CMD...   run CMD inside NODE's network namespace
  lab set FROM->TO KEY=VALUE... [--lab NAME] [--both]
                                         change a running link: delay, jitter, loss, rate, queue
                                         (quote 'a->b' in a shell, or write a:b)
NAME may be left out when exactly one lab is up. Needs root (network namespaces).

--kube also runs a Kubernetes control plane for the lab on loopback (it implies --agents):
etcd, kube-apiserver, every node a Ready Node, the lpm extender (source: the agents, or the
lab Prometheus with --prometheus), kube-scheduler twice (default-scheduler, and lpm-scheduler
from manifests/base/lpm-scheduler-config.yaml) and a hollow kubelet that marks pods Running
with the node's overlay address as pod IP. A pod annotated
  lpm.l2sm.io/lab-command: '["iperf3", "-s"]'    (or: container = its first container's command)
gets that command run inside its node's namespace; deleting the pod stops it. Needs
kube-apiserver and kube-scheduler v1.26+ (--kube-bin DIR or $LPM_KUBE_BIN; they are in the
official kubernetes-server-linux-amd64.tar.gz) and etcd (Debian: apt-get install etcd-server).

Example:
  lpm lab up lab.yaml --agents
  lpm lab up scenarios/topologies/demo.yaml --kube --kube-bin ~/kubernetes/server/bin
  lpm lab exec a -- ping -c 3 10.200.0.2
  lpm lab set a:b delay=20ms loss=1% --both
  lpm lab down demo`;

export const labCommand: CommandSpec = {
  name: 'lab',
  summary: 'emulated L2S-M overlay on this machine (namespaces, VXLAN, userspace link emulator)',
  usage: 'lab up FILE [--agents] [--kube] | down [NAME] | status [NAME] | exec NODE -- CMD... | set FROM->TO KEY=VALUE...',
  details: DETAILS,
  allowPositionals: true,
  flags: {
    agents: { type: 'boolean', description: 'up: also start one lpm agent per node' },
    prometheus: {
      type: 'boolean',
      description: "up: also start Debian's prometheus on loopback (port 9090 if free) scraping the agents and the emulator",
    },
    'scrape-interval': { type: 'string', description: 'up --prometheus: scrape interval', default: '15s', value: 'DURATION' },
    kube: {
      type: 'boolean',
      description: 'up: also run a Kubernetes control plane (etcd, kube-apiserver, two kube-schedulers, the lpm extender, a hollow kubelet); implies --agents',
    },
    'kube-bin': {
      type: 'string',
      description: 'up --kube: folder of kube-apiserver, kube-scheduler, kubectl (default: $LPM_KUBE_BIN, else PATH)',
      value: 'DIR',
    },
    'normal-priority': {
      type: 'boolean',
      description: 'up: run the emulator without real-time priority (less accurate delays on a busy machine)',
    },
    'no-latency-compensation': {
      type: 'boolean',
      description: "up: do not subtract the emulator's measured wake-up latency from link delays",
    },
    lab: { type: 'string', description: 'exec, set: the lab (default: the only one up)', value: 'NAME' },
    both: { type: 'boolean', description: 'set: change both directions' },
    json: { type: 'boolean', description: 'status: print JSON' },
    state: { type: 'string', description: 'emulator, kubelet (internal): the lab state file', value: 'FILE' },
    'log-level': LOG_LEVEL_FLAG,
  },
  async run(args) {
    const [sub, ...pos] = args.positionals;
    const level = str(args, 'log-level') ?? 'info';
    switch (sub) {
      case 'up':
        return up(args, pos, level);
      case 'down':
        return down(pos);
      case 'status':
        return status(pos, bool(args, 'json'));
      case 'exec': {
        if (pos.length !== 1) throw new UsageError('usage: lpm lab exec NODE [--lab NAME] -- CMD [ARGS...]');
        if (args.rest.length === 0) throw new UsageError('no command: lpm lab exec NODE -- CMD [ARGS...]');
        return labExec(await resolveLab(str(args, 'lab')), pos[0]!, args.rest);
      }
      case 'set':
        return set(args, pos);
      case 'emulator':
        return emulator(args, level);
      case 'kubelet': {
        const file = str(args, 'state');
        if (!file) throw new UsageError('lab kubelet needs --state FILE (it is started by "lpm lab up --kube")');
        return runKubeletProcess(file, createLogger('lab-kubelet', level));
      }
      case undefined:
        throw new UsageError('missing subcommand (up, down, status, exec, set); see "lpm lab --help"');
      default:
        throw new UsageError(`unknown subcommand "${sub}" (up, down, status, exec, set); see "lpm lab --help"`);
    }
  },
};

async function up(args: ParsedArgs, pos: string[], level: string): Promise<number> {
  if (pos.length !== 1) throw new UsageError('usage: lpm lab up FILE [--agents] [--prometheus] [--kube [--kube-bin DIR]]');
  if (str(args, 'kube-bin') !== undefined && !bool(args, 'kube')) throw new UsageError('--kube-bin goes with --kube');
  // checked before anything is created: a typo is a usage error, not a half-built lab
  let scrapeInterval = 15;
  if (bool(args, 'prometheus')) {
    const v = str(args, 'scrape-interval') ?? '15s';
    try {
      scrapeInterval = parseDuration(v);
    } catch (err) {
      throw new UsageError(`--scrape-interval: ${(err as Error).message}`);
    }
    if (!(scrapeInterval > 0)) throw new UsageError(`--scrape-interval: "${v}" must be longer than 0s`);
  }
  const log = createLogger('lab', level);
  const state = await labUp(pos[0]!, {
    agents: bool(args, 'agents'),
    normalPriority: bool(args, 'normal-priority'),
    noCompensation: bool(args, 'no-latency-compensation'),
    ...(bool(args, 'prometheus') ? { prometheus: { scrapeInterval } } : {}),
    ...(bool(args, 'kube') ? { kube: { ...(str(args, 'kube-bin') ? { binDir: str(args, 'kube-bin')! } : {}), logLevel: level } } : {}),
    log,
  });
  process.stdout.write(`lab ${state.name} is up\n`);
  process.stdout.write(formatStatus({ state, emulatorAlive: true, agentsAlive: {}, namespaces: [] }, false));
  const capacity = await readEmulatorCapacity(packageRoot());
  for (const w of capacity ? capacityWarnings(state.plan.links, state.plan.nodes.length, capacity) : []) process.stderr.write(`lpm lab up: warning: ${w}\n`);
  if (state.kube) process.stdout.write(kubeUsage(state));
  return 0;
}

async function down(pos: string[]): Promise<number> {
  if (pos.length > 1) throw new UsageError('usage: lpm lab down [NAME]');
  let names: string[];
  if (pos[0]) names = [pos[0]];
  else names = [await resolveLab(undefined)];
  for (const name of names) {
    const r = await labDown(name);
    process.stdout.write(
      r.hadState || r.stoppedProcesses
        ? `lab ${name} is down (${r.stoppedProcesses} process(es) stopped)\n`
        : `lab ${name}: nothing was up; leftovers (if any) removed\n`,
    );
  }
  return 0;
}

async function status(pos: string[], json: boolean): Promise<number> {
  if (pos.length > 1) throw new UsageError('usage: lpm lab status [NAME] [--json]');
  const names = pos[0] ? [pos[0]] : await listLabs();
  if (names.length === 0) {
    process.stdout.write(json ? '[]\n' : 'no lab is up\n');
    return 0;
  }
  const all: LabStatus[] = [];
  for (const n of names) all.push(await labStatus(n));
  if (json) process.stdout.write(JSON.stringify(all, null, 2) + '\n');
  else process.stdout.write(all.map((s) => formatStatus(s, true)).join('\n'));
  return 0;
}

async function set(args: ParsedArgs, pos: string[]): Promise<number> {
  let req;
  try {
    req = parseSetArgs(pos);
  } catch (err) {
    throw new UsageError(`set: ${(err as Error).message}`);
  }
  const links = await labSet(await resolveLab(str(args, 'lab')), req, bool(args, 'both'));
  for (const l of links) process.stdout.write(`${linkKey(l.source, l.target)}: ${formatProps(l.properties)}\n`);
  return 0;
}

/** The emulator process: runs until SIGTERM/SIGINT. */
async function emulator(args: ParsedArgs, level: string): Promise<number> {
  const file = str(args, 'state');
  if (!file) throw new UsageError('lab emulator needs --state FILE (it is started by "lpm lab up")');
  const log = createLogger('lab-emulator', level);
  const state = JSON.parse(await readFile(file, 'utf8')) as LabState;
  // Highest CPU priority: on a busy machine a waiting emulator would otherwise wake up late, and
  // every millisecond it waits is added to the emulated links' delay.
  try {
    setPriority(-20);
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'cannot raise the emulator priority; delays may be less accurate');
  }
  let em;
  try {
    // LPM_LAB_IDLE_POLL=0: no idle pollers (see emulator.ts, startIdlePollers)
    em = await startEmulator(state.plan, log, { compensate: state.compensate ?? true, idlePoll: process.env.LPM_LAB_IDLE_POLL !== '0' });
  } catch (err) {
    // startEmulator closed what it had opened; one line for the log `lab up` shows on failure
    if (!(err instanceof ListenError)) throw err;
    process.stderr.write(`lpm lab emulator: ${err.message}\n`);
    log.flush();
    return 2;
  }
  await writeJsonAtomic(emulatorInfoPath(state.name), em.info);
  await new Promise<void>((resolve) => {
    const stop = (sig: string) => {
      log.info({ signal: sig }, 'emulator stopping');
      resolve();
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  await em.close();
  return 0;
}

export function formatProps(p: LinkProperties): string {
  return [
    `delay=${formatDuration(p.delay)}`,
    `jitter=${formatDuration(p.jitter)}`,
    `loss=${Math.round(p.loss * 10000) / 100}%`,
    `rate=${p.rate === null ? 'unlimited' : formatBandwidth(p.rate)}`,
    `queue=${formatDuration(p.queue)}`,
  ].join(' ');
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => '  ' + r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n';
}

function formatStatus(s: LabStatus, live: boolean): string {
  const { state } = s;
  const p = state.plan;
  const lines: string[] = [];
  lines.push(
    `lab ${state.name} (${state.phase}${state.error ? `: ${state.error}` : ''}) from ${state.file}, created ${state.createdAt}`,
  );
  lines.push(`  overlay ${p.overlaySubnet}, underlay ${p.underlaySubnet}, emulator ${p.emulatorAddress}`);
  if (state.emulator)
    lines.push(
      `  emulator pid ${state.emulator.pid}${live ? (s.emulatorAlive ? ' running' : ' NOT RUNNING') : ''}` +
        (state.emulator.httpPort ? `, http://127.0.0.1:${state.emulator.httpPort}/metrics` : '') +
        `, log ${state.emulator.log}`,
    );
  if (state.prometheus)
    lines.push(
      `  prometheus pid ${state.prometheus.pid}${live ? (s.prometheusAlive ? ' running' : ' NOT RUNNING') : ''}, ${state.prometheus.url}, log ${state.prometheus.log}`,
    );
  if (s.emulator) lines.push(...emulatorStatusLines(s.emulator));
  const nodeRows = [['NODE', 'NAMESPACE', 'OVERLAY', 'UNDERLAY', 'AGENT']];
  for (const n of p.nodes) {
    const a = state.agents.find((x) => x.node === n.name);
    const agent = a
      ? `pid ${a.pid}${live ? (s.agentsAlive[n.name] ? ' running' : ' NOT RUNNING') : ''} ${agentUrl(n)}`
      : '-';
    nodeRows.push([n.name, n.netns, n.overlayAddress, n.underlayAddress, agent]);
  }
  lines.push(table(nodeRows).trimEnd());
  const linkRows = [['LINK', 'DELAY', 'JITTER', 'LOSS', 'RATE', 'QUEUE', 'PACKETS', 'BYTES', 'DROPS(loss/queue)', 'LANE']];
  for (const l of p.links) {
    const liveLink = s.emulator?.links.find((x) => x.source === l.from && x.target === l.to);
    const props = liveLink?.properties ?? l;
    linkRows.push([
      linkKey(l.from, l.to),
      formatDuration(props.delay),
      formatDuration(props.jitter),
      `${Math.round(props.loss * 10000) / 100}%`,
      props.rate === null ? 'unlimited' : formatBandwidth(props.rate),
      formatDuration(props.queue),
      liveLink ? String(liveLink.counters.packets) : '-',
      liveLink ? String(liveLink.counters.bytes) : '-',
      liveLink ? `${liveLink.counters.dropped.loss}/${liveLink.counters.dropped.queue}` : '-',
      liveLink?.lane !== undefined ? String(liveLink.lane) : '-',
    ]);
  }
  if (p.links.length) lines.push(table(linkRows).trimEnd());
  else lines.push('  (no links)');
  if (state.kube) lines.push(formatKubeStatus(state, live ? s.kubeAlive : undefined).trimEnd());
  return lines.join('\n') + '\n';
}
