// Lab lifecycle: up (topology file -> namespaces, emulator, agents), down, status, set, exec.
// The state file is written before each step, so `down` can undo a crashed `up`; `down` also
// sweeps by name prefix and command-line marker for anything the state file missed.
import { readFile, rm } from 'node:fs/promises';
import { execa } from 'execa';
import { loadYamlConfig } from '../../src/config/loadYaml.js';
import { parseSubnet } from './ipv4.js';
import { topologySchema, type Topology } from '../topology.js';
import type { Logger } from '../../src/log.js';
import { AGENT_PORT, startAgents } from './agents.js';
import { freeLoopbackPort, prometheusMarker, startLabPrometheus } from './prometheus.js';
import type { EmulatorReport, EmulatorLinkReport } from './emulator.js';
import { createNode, createRootBridge, installFdb, labNamespaces, labRootLinks, rootRoutes, teardownNetwork } from './network.js';
import { linkKey, pickUnderlay, planLab } from './plan.js';
import { lpmBin } from './paths.js';
import { findByMarker, isAlive, spawnDetached, stopProcess } from './processes.js';
import type { SetRequest } from './setArgs.js';
import type { LabExtenderSource } from './kube/extender.js';
import { kubeAlive, kubeProcesses, kubeUp, prepareKube, type KubeOptions } from './kube/kubeLab.js';
import { kubeMarker } from './kube/state.js';
import {
  agentConfigPath,
  emulatorInfoPath,
  emulatorInfoSchema,
  emulatorLogPath,
  labDir,
  prometheusDir,
  readState,
  removeLabFiles,
  statePath,
  writeState,
  type LabState,
} from './state.js';

export interface UpOptions {
  agents?: boolean;
  /** Run the emulator at normal priority instead of SCHED_FIFO (less accurate on a busy machine). */
  normalPriority?: boolean;
  /** Turn off the emulator's receive-latency compensation. */
  noCompensation?: boolean;
  /** Also start a Prometheus on loopback scraping the agents and the emulator (needs --agents to be useful). */
  prometheus?: { port?: number; scrapeInterval?: number; /** extenders' /metrics, HOST:PORT */ extenders?: string[] };
  /** Also run a Kubernetes control plane for the lab (implies agents): see kube/kubeLab.ts. */
  kube?: KubeOptions;
  log?: Logger;
  /** How long to wait for the emulator to listen. */
  readyTimeoutMs?: number;
}

export async function loadTopology(file: string): Promise<Topology> {
  return loadYamlConfig(file, topologySchema);
}

/** Brings a lab up; on failure removes what it made and rethrows. Returns the final state. */
export async function labUp(file: string, opts: UpOptions = {}): Promise<LabState> {
  const topology = await loadTopology(file);
  return labUpTopology(topology, file, opts);
}

export async function labUpTopology(topology: Topology, file: string, opts: UpOptions = {}): Promise<LabState> {
  const name = topology.name;
  if (await readState(name).catch(() => 'broken'))
    throw new Error(`lab ${name} is already up (${statePath(name)}); run "lpm lab down ${name}" first`);
  const leftovers = [...(await labNamespaces(name)), ...(await labRootLinks(name))];
  if (leftovers.length)
    throw new Error(`lab ${name} has leftovers (${leftovers.join(', ')}); run "lpm lab down ${name}" first`);
  // --kube: binaries found before anything is created
  const kubePrepared = opts.kube ? await prepareKube(opts.kube) : undefined;
  const underlay = pickUnderlay(await rootRoutes(), parseSubnet(topology.subnet), topology.underlay);
  const plan = planLab(topology, underlay);
  const bin = lpmBin();
  const state: LabState = {
    version: 1,
    name,
    file,
    createdAt: new Date().toISOString(),
    phase: 'creating',
    plan,
    compensate: !opts.noCompensation,
    ...(topology.agent ? { agentExtra: topology.agent } : {}),
    created: { netns: [], rootLinks: [] },
    agents: [],
  };
  const save = () => writeState(state);
  await save();
  try {
    state.created.rootLinks.push(plan.rootBridge);
    await save();
    await createRootBridge(plan);
    for (const node of plan.nodes) {
      await createNode(plan, node, async (kind, n) => {
        (kind === 'netns' ? state.created.netns : state.created.rootLinks).push(n);
        await save();
      });
    }
    opts.log?.info({ lab: name, nodes: plan.nodes.length, underlay }, 'namespaces ready');

    await rm(emulatorInfoPath(name), { force: true });
    const log = emulatorLogPath(name);
    const marker = `--state ${statePath(name)}`;
    const emulatorCmd = [process.execPath, bin, 'lab', 'emulator', '--state', statePath(name)];
    // Real-time priority: on a busy machine a normal process wakes up milliseconds late, and every
    // late wake-up is added to an emulated link's delay. `chrt` execs node, so the PID stays.
    const realtime = !opts.normalPriority && (await canUseRealtime());
    if (!realtime) opts.log?.warn({ lab: name }, 'emulator runs at normal priority: delays are less accurate on a busy machine');
    const [cmd, ...cmdArgs] = realtime ? ['chrt', '-f', String(EMULATOR_RT_PRIORITY), ...emulatorCmd] : emulatorCmd;
    const pid = spawnDetached(cmd!, cmdArgs, log);
    state.emulator = { pid, marker, log };
    await save();
    const info = await waitForEmulator(name, { pid, marker }, opts.readyTimeoutMs ?? 15_000);
    state.emulator = { ...state.emulator, httpPort: info.httpPort, ports: info.ports };
    await save();
    await installFdb(plan, info.ports);
    opts.log?.info({ lab: name, httpPort: info.httpPort, links: plan.links.length }, 'emulator ready');

    // the lab's extender reads the agents (directly, or through Prometheus)
    if (opts.agents || opts.kube) await startAgents(state, state.agentExtra ?? {}, save);
    if (opts.prometheus) {
      const port = opts.prometheus.port ?? (await freeLoopbackPort(9090));
      state.prometheus = await startLabPrometheus(
        {
          agents: state.agents.map((a) => ({ node: a.node, target: `${plan.nodes.find((n) => n.name === a.node)!.underlayAddress}:${AGENT_PORT}` })),
          emulator: `127.0.0.1:${info.httpPort}`,
          ...(opts.prometheus.extenders || kubePrepared
            ? { extenders: [...(opts.prometheus.extenders ?? []), ...(kubePrepared ? [`127.0.0.1:${kubePrepared.extenderPort}`] : [])] }
            : {}),
        },
        { lab: name, dir: prometheusDir(name), port, scrapeInterval: opts.prometheus.scrapeInterval ?? 15 },
      );
      await save();
      opts.log?.info({ lab: name, url: state.prometheus.url }, 'prometheus ready');
    }
    if (opts.kube && kubePrepared) {
      const source: LabExtenderSource = state.prometheus
        ? { type: 'prometheus', url: state.prometheus.url, interval: opts.prometheus?.scrapeInterval ?? 15 }
        : { type: 'direct' };
      await kubeUp(state, kubePrepared, source, opts.kube, save, opts.log);
    }
    state.phase = 'up';
    await save();
    return state;
  } catch (err) {
    state.phase = 'failed';
    state.error = (err as Error).message;
    await save().catch(() => undefined);
    await labDown(name).catch((e: Error) => opts.log?.error({ err: e.message }, 'cleanup after failed up'));
    throw err;
  }
}

/** SCHED_FIFO priority of the emulator: above normal tasks, below the kernel's own RT threads (50+). */
export const EMULATOR_RT_PRIORITY = 10;

async function canUseRealtime(): Promise<boolean> {
  const r = await execa('chrt', ['-f', String(EMULATOR_RT_PRIORITY), 'true'], { reject: false });
  return r.exitCode === 0;
}

async function waitForEmulator(lab: string, proc: { pid: number; marker: string }, timeoutMs: number) {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    try {
      const info = emulatorInfoSchema.parse(JSON.parse(await readFile(emulatorInfoPath(lab), 'utf8')));
      if (info.pid === proc.pid) return info;
    } catch {
      /* not written yet */
    }
    if (!(await isAlive(proc))) throw new Error(`emulator exited during start: ${await tail(emulatorLogPath(lab))}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`emulator did not become ready in ${timeoutMs} ms: ${await tail(emulatorLogPath(lab))}`);
}

async function tail(file: string): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).trim().split('\n').slice(-5).join('\n') || '(empty log)';
  } catch {
    return '(no log)';
  }
}

export interface DownResult {
  lab: string;
  stoppedProcesses: number;
  hadState: boolean;
}

/** Stops the lab's processes and removes its namespaces, links and files. Idempotent. */
export async function labDown(name: string): Promise<DownResult> {
  let state: LabState | undefined;
  try {
    state = await readState(name);
  } catch {
    state = undefined; // unreadable: the sweep below still finds everything by name
  }
  const procs = [
    // the hollow kubelet first: it stops the pods' workloads
    ...kubeProcesses(state?.kube),
    ...(state?.prometheus ? [state.prometheus] : []),
    ...(state?.agents ?? []),
    ...(state?.emulator ? [state.emulator] : []),
  ];
  let stopped = 0;
  for (const p of procs) {
    if (await isAlive(p)) stopped++;
    await stopProcess(p);
  }
  // Anything started but not recorded (crash between spawn and save).
  const markers = [`--state ${statePath(name)}`, `--config ${agentConfigPath(name, '')}`, prometheusMarker(name), kubeMarker(name)];
  for (const marker of markers) {
    for (const pid of await findByMarker(marker)) {
      stopped++;
      await stopProcess({ pid, marker });
    }
  }
  await teardownNetwork(name);
  await removeLabFiles(name);
  return { lab: name, stoppedProcesses: stopped, hadState: state !== undefined };
}

export interface LabStatus {
  state: LabState;
  emulatorAlive: boolean;
  prometheusAlive?: boolean;
  agentsAlive: Record<string, boolean>;
  /** `up --kube`: control-plane process name -> running. */
  kubeAlive?: Record<string, boolean>;
  /** Live link properties and counters, when the emulator answers. */
  emulator?: EmulatorReport;
  namespaces: string[];
}

export async function labStatus(name: string): Promise<LabStatus> {
  const state = await readState(name);
  if (!state) throw new Error(`lab ${name} is not up (no ${statePath(name)})`);
  const emulatorAlive = state.emulator ? await isAlive(state.emulator) : false;
  const agentsAlive: Record<string, boolean> = {};
  for (const a of state.agents) agentsAlive[a.node] = await isAlive(a);
  const prometheusAlive = state.prometheus ? await isAlive(state.prometheus) : undefined;
  let emulator: EmulatorReport | undefined;
  if (emulatorAlive && state.emulator?.httpPort) {
    try {
      emulator = await emulatorGet(state, '/api/v1/emulated-links');
    } catch {
      emulator = undefined;
    }
  }
  return {
    state,
    emulatorAlive,
    agentsAlive,
    ...(prometheusAlive !== undefined ? { prometheusAlive } : {}),
    ...(state.kube ? { kubeAlive: await kubeAlive(state.kube) } : {}),
    ...(emulator ? { emulator } : {}),
    namespaces: await labNamespaces(name),
  };
}

export function emulatorUrl(state: LabState): string {
  if (!state.emulator?.httpPort) throw new Error(`lab ${state.name}: the emulator has not started (phase ${state.phase})`);
  return `http://127.0.0.1:${state.emulator.httpPort}`;
}

async function emulatorGet<T>(state: LabState, path: string): Promise<T> {
  const res = await fetch(emulatorUrl(state) + path, { signal: AbortSignal.timeout(2000) });
  if (!res.ok) throw new Error(`emulator ${path}: HTTP ${res.status}`);
  return (await res.json()) as T;
}

/** Changes a running link (and its reverse with `both`); returns the links as they are now. */
export async function labSet(name: string, req: SetRequest, both = false): Promise<EmulatorLinkReport[]> {
  const state = await readState(name);
  if (!state) throw new Error(`lab ${name} is not up (no ${statePath(name)})`);
  const pairs: [string, string][] = [[req.from, req.to]];
  if (both) pairs.push([req.to, req.from]);
  for (const [a, b] of pairs)
    if (!state.plan.links.some((l) => l.from === a && l.to === b))
      throw new Error(`lab ${name} has no link ${linkKey(a, b)} (links: ${state.plan.links.map((l) => linkKey(l.from, l.to)).join(', ')})`);
  const out: EmulatorLinkReport[] = [];
  for (const [a, b] of pairs) {
    const res = await fetch(`${emulatorUrl(state)}/api/v1/emulated-links/${encodeURIComponent(a)}/${encodeURIComponent(b)}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(req.raw),
      signal: AbortSignal.timeout(5000),
    });
    const body = (await res.json().catch(() => ({}))) as EmulatorLinkReport & { error?: string };
    if (!res.ok) throw new Error(`emulator refused ${linkKey(a, b)}: ${body.error ?? `HTTP ${res.status}`}`);
    out.push(body);
  }
  return out;
}

/** Runs a command inside a node's namespace with the terminal attached; returns its exit code. */
export async function labExec(name: string, node: string, cmd: string[]): Promise<number> {
  const state = await readState(name);
  if (!state) throw new Error(`lab ${name} is not up (no ${statePath(name)})`);
  const n = state.plan.nodes.find((x) => x.name === node);
  if (!n) throw new Error(`lab ${name} has no node "${node}" (nodes: ${state.plan.nodes.map((x) => x.name).join(', ')})`);
  if (cmd.length === 0) throw new Error('no command given: lpm lab exec NODE -- CMD [ARGS...]');
  const r = await execa('ip', ['netns', 'exec', n.netns, ...cmd], { stdio: 'inherit', reject: false });
  if (r.failed && r.exitCode === undefined) throw new Error(`cannot run ${cmd[0]}: ${r.shortMessage}`);
  return r.exitCode ?? 1;
}

export { labDir };
