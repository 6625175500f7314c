// The demo flow, one step after the other: overlay (lab) or configured links (sim), extender,
// optional Prometheus, the first full measurement sweep, the matrices, example pods scheduled
// through the extender over HTTP, then the web page until Ctrl-C. Every step that creates
// something pushes its undo first-in-last-out, so any exit path leaves nothing behind.
import { rm } from 'node:fs/promises';
import { z } from 'zod';
import { createExtender } from '../../extender/extender.js';
import { PodIndex } from '../../extender/pods/podIndex.js';
import { DirectSource } from '../../extender/sources/direct.js';
import type { MetricSource } from '../../extender/sources/source.js';
import { StaticSource } from '../../extender/sources/static.js';
import { measurementSchema } from '../../agent/config.js';
import { extenderConfigSchema } from '../../extender/config.js';
import { checkCanListen } from '../../src/listen.js';
import type { Logger } from '../../src/log.js';
import { podId } from '../scenarioFile.js';
import type { Topology } from '../topology.js';
import { agentUrl } from '../lab/agents.js';
import { labDown, labUpTopology } from '../lab/lab.js';
import { stopProcess } from '../lab/processes.js';
import { freeLoopbackPort, prometheusAvailable, startLabPrometheus } from '../lab/prometheus.js';
import { prometheusDir, type LabState } from '../lab/state.js';
import { locateKubeBinaries } from '../lab/kube/binaries.js';
import { packageRoot } from '../lab/paths.js';
import { scheduleThroughKube, withPodCapacity } from './kubePods.js';
import { podStoreSink, SchedulingDriver } from '../runner/driver.js';
import { ExtenderClient } from '../runner/extenderClient.js';
import { CleanupStack, signalAbort } from './cleanup.js';
import { explainPlacement } from './explain.js';
import { configuredTables, matrixTables } from './matrixTable.js';
import { chooseMode, type DemoMode } from './mode.js';
import { DEMO_SCHEDULER, demoPods } from './pods.js';
import { waitForFirstSweep } from './sweep.js';
import { configuredMatrix, loadDemoTopology, measuredPairs } from './topology.js';

export interface DemoOptions {
  /** undefined: lab when possible, else sim. */
  mode?: DemoMode;
  /** Extender port on 127.0.0.1 (0: any free port). */
  port: number;
  lab: string;
  topologyFile: string;
  exitAfterFirstDecisions: boolean;
  /** How long to wait for the first full sweep before going on with what is measured. */
  sweepTimeoutMs: number;
  logger: Logger;
  /** Extender's logger (quieter than the demo's by default: its refresh warnings are expected at start). */
  extenderLogger: Logger;
  out: (text: string) => void;
  /**
   * Lab mode: place the example pods through the lab's real kube-schedulers (`lab up --kube`).
   * undefined: when the Kubernetes binaries are found; false: never; true: required.
   */
  kube?: boolean;
  /** Folder of kube-apiserver and kube-scheduler (else $LPM_KUBE_BIN, PATH, ../shared/k8s/bin). */
  kubeBin?: string;
}

/** Seconds between RTT runs and between bandwidth sweeps, from the topology's `agent` section. */
export function measurementIntervals(t: Topology): { rtt: number; bandwidth: number } {
  const parsed = z.array(measurementSchema).safeParse((t.agent as { measurements?: unknown } | undefined)?.measurements ?? []);
  const measurements = parsed.success ? parsed.data : [];
  return {
    rtt: measurements.find((m) => m.type === 'rtt')?.interval ?? 10,
    bandwidth: measurements.find((m) => m.type === 'bandwidth')?.interval ?? 300,
  };
}

/** Runs the demo; resolves with the exit code once everything it started is gone. */
export async function runDemo(opts: DemoOptions): Promise<number> {
  const { out, logger } = opts;
  const stop = signalAbort();
  const cleanup = new CleanupStack();
  let ready = false;
  let code = 0;
  try {
    const topology = await loadDemoTopology(opts.topologyFile, opts.lab);
    const { mode, note } = await chooseMode(opts.mode);
    const nodes = topology.nodes.map((n) => n.name);
    const intervals = measurementIntervals(topology);
    out(`lpm demo (${mode} mode): ${nodes.length} nodes (${nodes.join(', ')}), topology ${opts.topologyFile}`);
    if (note) out(note);
    // The web page's port taken: say so now, not after bringing the lab up (extender.start()
    // below still fails cleanly with the same ListenError if it is taken in between).
    if (opts.port !== 0) await checkCanListen('127.0.0.1', opts.port);

    let source: MetricSource;
    let prometheusTargets: { agents: Array<{ node: string; target: string }>; emulator?: string } | undefined;
    let kubeState: LabState | undefined;
    if (mode === 'lab') {
      const kube =
        opts.kube === false
          ? undefined
          : (await locateKubeBinaries(packageRoot(), { ...(opts.kubeBin ? { dir: opts.kubeBin } : {}), required: opts.kube === true })).bins;
      out(
        `Bringing up the emulated overlay "${topology.name}": a network namespace per node, the link emulator, an agent per node` +
          `${kube ? `, and a Kubernetes ${kube.version} control plane (kube-apiserver, default-scheduler, lpm-scheduler, the lpm extender, a hollow kubelet)` : ''}...`,
      );
      const state = await labUpTopology(kube ? withPodCapacity(topology, DEMO_SCHEDULER.podsPerNode) : topology, opts.topologyFile, {
        agents: true,
        log: logger,
        ...(kube ? { kube: { binDir: kube.dir, logLevel: 'warn' } } : {}),
      });
      cleanup.push(`lab "${topology.name}" down (namespaces, emulator, agents${kube ? ', control plane' : ''})`, () => labDown(topology.name));
      stop.signal.throwIfAborted();
      if (state.kube) {
        kubeState = state;
        out(`  control plane: ${state.kube.server} (kubeconfig ${state.kube.kubeconfig}); lab extender for lpm-scheduler: ${state.kube.extender?.url}/`);
      }
      const agents = state.plan.nodes.map((n) => ({ node: n.name, url: agentUrl(n) }));
      out(`  agents: ${agents.map((a) => `${a.node} ${a.url}`).join(', ')}`);
      source = new DirectSource(agents.map((a) => a.url), 2, 2);
      prometheusTargets = {
        agents: agents.map((a) => ({ node: a.node, target: new URL(a.url).host })),
        ...(state.emulator?.httpPort ? { emulator: `127.0.0.1:${state.emulator.httpPort}` } : {}),
      };
    } else {
      // sim: what the agents would measure on the topology, dated "now" at every refresh
      source = new StaticSource({ matrix: () => configuredMatrix(topology) }, 2);
    }

    const config = extenderConfigSchema.parse({
      listen: `127.0.0.1:${opts.port}`,
      source: { type: 'static', links: [] }, // replaced by `source` below
      kubernetes: { enabled: false },
      staleness: { rttInterval: intervals.rtt, bandwidthInterval: intervals.bandwidth },
    });
    const store = new PodIndex();
    const extender = await createExtender({ config, podStore: store, source, logger: opts.extenderLogger });
    const url = await extender.start({ host: '127.0.0.1', port: opts.port });
    cleanup.push('extender closed', () => extender.close());
    out(`Extender (${source.type} source) listening on ${url}; web page: ${url}/`);
    stop.signal.throwIfAborted();

    if (mode === 'lab' && prometheusTargets) {
      if (await prometheusAvailable()) {
        // in the lab's own directory: `lpm lab down` removes it even if the demo was killed
        const dir = prometheusDir(topology.name);
        cleanup.push('Prometheus data removed', () => rm(dir, { recursive: true, force: true }));
        const prom = await startLabPrometheus(
          { ...prometheusTargets, extenders: [new URL(url).host] },
          { lab: topology.name, dir, port: await freeLoopbackPort(9090), scrapeInterval: 5 },
        );
        cleanup.push('Prometheus stopped', () => stopProcess(prom));
        out(`Prometheus on ${prom.url} scrapes the agents, the emulator and the extender (try lpm_link_rtt_seconds)`);
      } else out('Prometheus is not installed: skipped (bash scripts/setup.sh installs it).');
    }
    stop.signal.throwIfAborted();

    const pairs = measuredPairs(topology);
    out(
      mode === 'lab'
        ? `Waiting for the first full measurement sweep (${pairs.length} directed links; RTT every ${intervals.rtt} s, bandwidth: one iperf3 test per pair and direction)...`
        : 'Loading the configured links...',
    );
    const complete = await waitForFirstSweep(extender.cache, pairs, { timeoutMs: opts.sweepTimeoutMs, signal: stop.signal, progress: out });
    if (!complete)
      out(`  not complete after ${Math.round(opts.sweepTimeoutMs / 1000)} s: going on; the missing values are unknown, which the extender scores as neutral`);
    await extender.cache.refresh();
    out('');
    out(
      mode === 'lab'
        ? matrixTables(nodes, extender.cache.current?.matrix, configuredMatrix(topology))
        : configuredTables(nodes, extender.cache.current?.matrix ?? configuredMatrix(topology)),
    );
    out('');

    if (kubeState) {
      out(
        `Scheduling example pods through kube-scheduler ${kubeState.kube!.version}: Pod objects with schedulerName ${DEMO_SCHEDULER.schedulerName}, ` +
          `which calls the lab's lpm extender (weight ${DEMO_SCHEDULER.weight}); ${DEMO_SCHEDULER.podsPerNode} pods per node:`,
      );
      await new Promise((r) => setTimeout(r, 3000)); // the lab extender's next scrape of the agents
      await scheduleThroughKube(kubeState, demoPods(), { schedulerName: DEMO_SCHEDULER.schedulerName, weight: DEMO_SCHEDULER.weight, out, signal: stop.signal });
    } else {
    out(
      `Scheduling example pods through the extender (POST ${url}/filter, then /prioritize with NodeNames, as kube-scheduler does; ` +
        `extender weight ${DEMO_SCHEDULER.weight}, ${DEMO_SCHEDULER.podsPerNode} pods per node):`,
    );
    const driver = new SchedulingDriver({
      nodes,
      weight: DEMO_SCHEDULER.weight,
      spreadWeight: DEMO_SCHEDULER.spreadWeight,
      podsPerNode: DEMO_SCHEDULER.podsPerNode,
      schedulerName: DEMO_SCHEDULER.schedulerName,
      extender: new ExtenderClient(url),
      sink: podStoreSink(store),
      run: 'demo',
    });
    for (const pod of demoPods()) {
      stop.signal.throwIfAborted();
      const placement = await driver.schedule(pod);
      out(explainPlacement(placement, extender.decisions.list({ pod: podId(pod) })).join('\n'));
    }
    }
    out('');
    ready = true;
    if (opts.exitAfterFirstDecisions) {
      out('Done (--exit-after-first-decisions).');
      return code;
    }
    out(`The web page shows the live matrices and these decisions: ${url}/`);
    out('Press Ctrl-C to stop the demo and remove everything it started.');
    if (!stop.signal.aborted) await new Promise((resolve) => stop.signal.addEventListener('abort', resolve, { once: true }));
    out(`\n${stop.received() ?? 'stop'} received.`);
    return code;
  } catch (err) {
    if (!stop.signal.aborted) throw err;
    out(`\n${stop.received()} received${ready ? '' : ' before the demo was ready'}.`);
    code = ready ? 0 : 130;
    return code;
  } finally {
    out('Cleaning up:');
    const failures = await cleanup.run(out);
    stop.dispose();
    if (failures.length) {
      for (const f of failures) out(`  FAILED ${f}`);
      process.exitCode = 1;
    } else out('  done: nothing left running.');
  }
}
