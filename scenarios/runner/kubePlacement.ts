// Lab mode through kube-scheduler (`lab up --kube`): the scenario's pods become Pod objects in the
// lab's API server, created one at a time in arrival order, and the lab's real kube-schedulers
// place them: `default` = default-scheduler (no extender), `lpm` = lpm-scheduler with the lab
// extender configured as the scenario says, `netmarks` = lpm-scheduler with the same extender
// restarted NetMARKS-style (variants.ts: traffic weights, co-location only). The arms run one
// after the other on the same lab (the extender is restarted between them, so one extender and
// one lpm-scheduler suffice); each arm's pods are deleted before the next arm starts.
// The pods of the call graph carry the `lpm.l2sm.io/lab-command` annotation: the hollow kubelet
// runs `lpm scenario serve --spec-file FILE` in the node kube-scheduler chose; the runner writes
// FILE once every pod is placed (a callee's address is known only then).
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { CoreV1Api, type CoreV1Event, type V1Pod } from '@kubernetes/client-node';
import { kubeConfigFor } from '../../src/kube/podWatch.js';
import { reconfigureLabExtender, restartLpmScheduler } from '../lab/kube/kubeLab.js';
import { kubeDir } from '../lab/kube/state.js';
import { LAB_COMMAND_ANNOTATION } from '../lab/kube/workload.js';
import { lpmBin } from '../lab/paths.js';
import type { LabState } from '../lab/state.js';
import { podId, type Scenario, type ScenarioPod } from '../scenarioFile.js';
import type { Topology } from '../topology.js';
import type { Placement } from './driver.js';
import type { Progress } from './placementRun.js';
import type { ServiceSpec } from './service.js';
import { placementExtenderConfig, type PlacementName } from './variants.js';

export const ARM_SCHEDULER: Record<PlacementName, string> = {
  lpm: 'lpm-scheduler',
  netmarks: 'lpm-scheduler',
  default: 'default-scheduler',
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The topology with each node's `pods` capacity set from the scenario's scheduler section. */
export function kubeTopology(s: Scenario, topology: Topology): Topology {
  return {
    ...topology,
    nodes: topology.nodes.map((n) => {
      if (n.capacity?.pods !== undefined) return n;
      const pods = s.scheduler.capacity[n.name] ?? s.scheduler.podsPerNode;
      return { ...n, capacity: { ...(n.capacity ?? {}), pods: String(pods) } };
    }),
  };
}

/** The lab extender's config sections for an arm (undefined: the arm has no extender). */
export function armExtenderSections(s: Scenario, arm: PlacementName): Record<string, unknown> | undefined {
  const cfg = placementExtenderConfig(s.extenderConfig, arm);
  if (!cfg) return undefined;
  return { scoring: cfg.scoring, peers: cfg.peers };
}

export interface KubeArms {
  /** Makes the lab's extender and lpm-scheduler ready for this arm (restarts only on change). */
  prepare(arm: PlacementName): Promise<void>;
  /** Creates the pods in arrival order and waits for each to be placed (or found unschedulable). */
  place(arm: PlacementName, rep: number): Promise<Placement[]>;
  /** Writes the services' specs and waits until each listens. */
  startServices(specs: Array<ServiceSpec & { node: string }>): Promise<() => Promise<void>>;
  /** Deletes the arm's pods (graceful: the kubelet stops their commands) and waits until gone. */
  clear(): Promise<void>;
}

export async function kubeArms(state: LabState, s: Scenario, progress: Progress): Promise<KubeArms> {
  const k = state.kube!;
  const api = kubeConfigFor({ kubeconfig: k.kubeconfig }).makeApiClient(CoreV1Api);
  const specDir = join(kubeDir(state.name), 'scenario-specs');
  await mkdir(specDir, { recursive: true });
  const pods = s.pods;
  const involved = new Set(s.traffic ? [s.traffic.entry, ...s.traffic.calls.flatMap((c) => [c.from, c.to])] : []);
  const specFile = (p: ScenarioPod) => join(specDir, `${p.namespace}_${p.name}.json`);
  let extenderSections = ''; // what the extender runs with now ('' = as `lab up` started it)
  let weightSet = false;
  const created: ScenarioPod[] = [];

  for (const ns of new Set(pods.map((p) => p.namespace)))
    if (ns !== 'default')
      await api.createNamespace({ body: { metadata: { name: ns } } }).catch((err: { code?: number }) => {
        if (err.code !== 409) throw err;
      });

  const podBody = (p: ScenarioPod, arm: PlacementName, rep: number): V1Pod => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: p.name,
      namespace: p.namespace,
      labels: { ...p.labels },
      annotations: {
        ...p.annotations,
        'lpm.l2sm.io/scenario-arm': `${arm}#${rep}`,
        ...(involved.has(podId(p))
          ? { [LAB_COMMAND_ANNOTATION]: JSON.stringify([process.execPath, lpmBin(), 'scenario', 'serve', '--spec-file', specFile(p)]) }
          : {}),
      },
    },
    spec: {
      ...(p.nodeName !== undefined ? { nodeName: p.nodeName } : { schedulerName: ARM_SCHEDULER[arm] }),
      terminationGracePeriodSeconds: 3,
      containers: [{ name: 'app', image: 'registry.k8s.io/pause:3.9' }],
    },
  });

  const eventsOf = async (p: V1Pod): Promise<CoreV1Event[]> => {
    const list = await api.listNamespacedEvent({ namespace: p.metadata!.namespace!, fieldSelector: `involvedObject.name=${p.metadata!.name}` });
    return list.items
      .filter((e) => e.involvedObject.uid === p.metadata!.uid)
      .sort((a, b) => String(a.eventTime ?? a.firstTimestamp ?? '').localeCompare(String(b.eventTime ?? b.firstTimestamp ?? '')));
  };
  const describe = (e: CoreV1Event) => `${e.reportingComponent || e.source?.component || '?'} ${e.reason}: ${e.message ?? ''}`;

  async function placeOne(p: ScenarioPod, arm: PlacementName, rep: number): Promise<Placement> {
    const id = podId(p);
    const made = await api.createNamespacedPod({ namespace: p.namespace, body: podBody(p, arm, rep) });
    created.push(p);
    const until = Date.now() + 60_000;
    let failedAt = 0;
    while (Date.now() < until) {
      const cur = await api.readNamespacedPod({ name: p.name, namespace: p.namespace });
      const node = cur.spec?.nodeName;
      if (node) {
        // Running (the hollow kubelet saw it), and a moment for the extender's pod watch, so the
        // next pod's peers are where this one went
        while (Date.now() < until) {
          const now = await api.readNamespacedPod({ name: p.name, namespace: p.namespace });
          if (now.status?.phase === 'Running') break;
          await sleep(200);
        }
        await sleep(500);
        const events = (await eventsOf(made)).map(describe);
        return {
          pod: id,
          node,
          ...(p.nodeName !== undefined ? { preplaced: true } : {}),
          filtered: {},
          scores: [],
          scheduler: p.nodeName !== undefined ? 'bound by nodeName' : ARM_SCHEDULER[arm],
          events,
        };
      }
      const evs = await eventsOf(made);
      const failed = evs.filter((e) => e.reason === 'FailedScheduling');
      if (failed.length) {
        // one retry's worth of time: a pod can fail once while the scheduler's cache catches up
        failedAt ||= Date.now();
        if (Date.now() - failedAt > 3000)
          return {
            pod: id,
            node: null,
            reason: failed[failed.length - 1]!.message ?? 'FailedScheduling',
            filtered: {},
            scores: [],
            scheduler: ARM_SCHEDULER[arm],
            events: evs.map(describe),
          };
      }
      await sleep(250);
    }
    return { pod: id, node: null, reason: 'not scheduled within 60s (no event)', filtered: {}, scores: [], scheduler: ARM_SCHEDULER[arm], events: [] };
  }

  return {
    async prepare(arm) {
      if (!weightSet) {
        weightSet = true;
        progress(`  lpm-scheduler: extender weight ${s.scheduler.weight}`);
        await restartLpmScheduler(state.name, { weight: s.scheduler.weight });
      }
      const sections = armExtenderSections(s, arm);
      if (!sections) return;
      const text = JSON.stringify(sections);
      if (text === extenderSections) return;
      progress(`  lab extender: restarting with the ${arm} configuration`);
      await reconfigureLabExtender(state.name, sections);
      extenderSections = text;
    },
    async place(arm, rep) {
      await rm(specDir, { recursive: true, force: true });
      await mkdir(specDir, { recursive: true });
      const out: Placement[] = [];
      for (const p of pods) {
        const placed = await placeOne(p, arm, rep);
        out.push(placed);
        const last = placed.events?.filter((e) => / (Scheduled|FailedScheduling):/.test(e)).pop();
        progress(`  ${arm.padEnd(8)} ${placed.pod} -> ${placed.node ?? 'unschedulable'}${placed.preplaced ? ' (pre-placed)' : ''}${last ? ` | ${last}` : ''}`);
      }
      return out;
    },
    async startServices(specs) {
      for (const spec of specs) {
        const { node: _n, ...wire } = spec;
        const pod = pods.find((p) => podId(p) === spec.pod)!;
        const file = specFile(pod);
        await writeFile(`${file}.tmp`, JSON.stringify(wire));
        const { rename } = await import('node:fs/promises');
        await rename(`${file}.tmp`, file);
      }
      for (const spec of specs) {
        const node = state.plan.nodes.find((n) => n.name === spec.node)!;
        await waitListening(node.underlayAddress, spec.port, 20_000, spec.pod);
      }
      return async () => undefined; // the pods (and their commands) go in clear()
    },
    async clear() {
      const gone = created.splice(0);
      for (const p of gone) await api.deleteNamespacedPod({ name: p.name, namespace: p.namespace }).catch(() => undefined);
      const until = Date.now() + 60_000;
      for (const p of gone)
        while (Date.now() < until) {
          const exists = await api.readNamespacedPod({ name: p.name, namespace: p.namespace }).then(
            () => true,
            () => false,
          );
          if (!exists) break;
          await sleep(250);
        }
    },
  };
}

function waitListening(host: string, port: number, timeoutMs: number, pod: string): Promise<void> {
  const until = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const sock = connect({ host, port });
      sock.once('connect', () => {
        sock.destroy();
        resolve();
      });
      sock.once('error', () => {
        sock.destroy();
        if (Date.now() > until) reject(new Error(`service ${pod} (the pod's lab command) does not listen on ${host}:${port} after ${timeoutMs} ms`));
        else setTimeout(attempt, 200);
      });
    };
    attempt();
  });
}
