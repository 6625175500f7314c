// The deployment manifests: every kustomization renders, every object is valid against the
// Kubernetes schemas (or its own CRD / component-config schema), and the parts agree with each
// other: scheduler -> extender Service -> extender container -> extender config; agent config ->
// agent container port -> what Prometheus keeps; Prometheus Service -> extender source and
// Grafana datasource; the L2S-M network -> agent annotation -> agent config.
// Rendered by the shipped kubectl (`kubectl kustomize`, test/helpers/kustomize.ts); the same
// objects against a real kube-apiserver: test/integration/manifests-api.test.ts.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { parse as parseYaml, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dashboardPanels, dashboardQueries } from '../helpers/dashboardQueries.js';
import { windowSeconds } from '../../agent/bandwidth/timetable.js';
import { agentConfigSchema } from '../../agent/config.js';
import { extenderConfigSchema } from '../../extender/config.js';
import { parseYamlConfig } from '../../src/config/loadYaml.js';
import { L2SM_NETWORKS_ANNOTATION, parseL2smNetworks } from '../../src/l2sm.js';
import { parsePeerSelectors, parsePeerWeights, PEER_WEIGHTS_ANNOTATION, PEERS_ANNOTATION } from '../../extender/peers/peerAnnotations.js';
import { MAX_RTT_ANNOTATION, MIN_BANDWIDTH_ANNOTATION, parsePodLimits } from '../../extender/scoring/podLimits.js';
import { DEFAULT_ASSUME_TTL_MS } from '../../extender/pods/podIndex.js';
import { describeWithCapabilities, itWithCapabilities, missingCapabilities, promtool } from '../helpers/capability.js';
import { validateBuiltinObject } from '../helpers/k8sValidate.js';
import {
  kubectlBinary,
  objectKey,
  podSpecsOf,
  readYamlObjects,
  renderKustomization,
  type ContainerLike,
  type K8sObject,
} from '../helpers/kustomize.js';
import { kubeSchedulerConfigurationSchema } from '../helpers/schemas/kubeSchedulerConfiguration.js';
import { grafanaDashboardProvidersSchema, grafanaDatasourcesSchema } from '../helpers/schemas/grafanaProvisioning.js';
import { l2NetworkSchema } from '../helpers/schemas/l2Network.js';

const ROOT = resolve(import.meta.dirname, '../..');
const M = (p: string) => join(ROOT, 'manifests', p);
const KUSTOMIZATIONS = ['base', 'overlays/default', 'overlays/kind'] as const;
const NS = 'lpm-system';

const missingPromtool = await missingCapabilities([promtool()]);

// Every kustomization as the shipped kubectl renders it. Without that kubectl, the suites that need
// the rendered objects are skipped and say why; with CI=true the file fails instead.
const missingKubectl = await missingCapabilities([kubectlBinary()]);
if (missingKubectl.length > 0) describeWithCapabilities('manifests rendered by `kubectl kustomize`', missingKubectl, () => undefined);
const describeRendered = missingKubectl.length > 0 ? describe.skip : describe;
const rendered = new Map<string, K8sObject[]>(
  missingKubectl.length > 0 ? [] : await Promise.all(KUSTOMIZATIONS.map(async (k) => [k, await renderKustomization(M(k))] as const)),
);
const exampleFiles = readdirSync(M('examples')).filter((f) => /\.ya?ml$/.test(f));

function find(objects: K8sObject[], kind: string, name: string): K8sObject {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`${kind}/${name} not rendered`);
  return o;
}
function configMapData(objects: K8sObject[], name: string): Record<string, string> {
  return find(objects, 'ConfigMap', name).data as Record<string, string>;
}
function onlyContainer(objects: K8sObject[], kind: string, name: string): ContainerLike {
  const [pod] = podSpecsOf(find(objects, kind, name));
  expect(pod!.spec.containers).toHaveLength(1);
  return pod!.spec.containers[0]!;
}
function portNumber(c: ContainerLike, name: string): number {
  const p = c.ports?.find((x) => x.name === name);
  if (!p) throw new Error(`container ${c.name} has no port named ${name}`);
  return p.containerPort;
}
function listenPort(listen: string): number {
  return Number(listen.slice(listen.lastIndexOf(':') + 1));
}
/** The file a `--config X` / `--config=X` / `--config.file=X` flag names. */
function flagValue(args: string[], flag: string): string {
  const i = args.indexOf(flag);
  if (i >= 0) return args[i + 1]!;
  const eq = args.find((a) => a.startsWith(`${flag}=`));
  if (!eq) throw new Error(`no ${flag} in ${args.join(' ')}`);
  return eq.slice(flag.length + 1);
}
/** ConfigMap name and key behind a file path in a container (mounted as a directory, no subPath). */
function configMapBehind(objects: K8sObject[], kind: string, name: string, file: string): { configMap: string; key: string } {
  const [pod] = podSpecsOf(find(objects, kind, name));
  for (const c of pod!.spec.containers) {
    for (const m of c.volumeMounts ?? []) {
      if (!file.startsWith(`${m.mountPath}/`)) continue;
      expect(m.subPath, `${kind}/${name} mounts ${m.mountPath} with subPath: updates would never reach the pod`).toBeUndefined();
      const vol = pod!.spec.volumes?.find((v) => v.name === m.name);
      if (vol?.configMap) return { configMap: vol.configMap.name, key: file.slice(m.mountPath.length + 1) };
    }
  }
  throw new Error(`${kind}/${name}: ${file} is not in a mounted ConfigMap`);
}
function serviceUrl(objects: K8sObject[], service: string): string {
  const svc = find(objects, 'Service', service);
  const port = (svc.spec as { ports: { port: number }[] }).ports[0]!.port;
  return `http://${service}.${svc.metadata.namespace}.svc:${port}`;
}
/** The container port a Service's (only) port sends to, resolving a named targetPort. */
function serviceTarget(objects: K8sObject[], service: string, kind: string, workload: string): number {
  const svc = find(objects, 'Service', service);
  const spec = svc.spec as { selector: Record<string, string>; ports: { port: number; targetPort?: number | string }[] };
  expect(spec.ports).toHaveLength(1);
  const [pod] = podSpecsOf(find(objects, kind, workload));
  for (const [k, v] of Object.entries(spec.selector)) expect(pod!.labels[k], `${service} selects ${kind}/${workload}`).toBe(v);
  const target = spec.ports[0]!.targetPort ?? spec.ports[0]!.port;
  return typeof target === 'number' ? target : portNumber(pod!.spec.containers[0]!, target);
}

describeRendered.each(KUSTOMIZATIONS)('kustomization %s', (name) => {
  const objects = rendered.get(name)!;

  it('renders the whole pipeline into lpm-system', () => {
    const keys = objects.map(objectKey);
    for (const expected of [
      'Namespace//lpm-system',
      'DaemonSet/lpm-system/lpm-agent',
      'Deployment/lpm-system/lpm-extender',
      'Service/lpm-system/lpm-extender',
      'PodDisruptionBudget/lpm-system/lpm-extender',
      'Deployment/lpm-system/lpm-scheduler',
      'Deployment/lpm-system/lpm-prometheus',
      'Service/lpm-system/lpm-prometheus',
      'Deployment/lpm-system/lpm-grafana',
      'ConfigMap/lpm-system/lpm-agent-config',
      'ConfigMap/lpm-system/lpm-extender-config',
      'ConfigMap/lpm-system/lpm-scheduler-config',
      'ConfigMap/lpm-system/lpm-prometheus-config',
      'ConfigMap/lpm-system/lpm-grafana-dashboards',
    ])
      expect(keys).toContain(expected);
    expect(new Set(keys).size).toBe(keys.length);
    for (const o of objects) if (o.kind !== 'Namespace' && !o.kind.startsWith('Cluster')) expect(o.metadata.namespace).toBe(NS);
  });

  it('validates every object against its schema', async () => {
    const errors: string[] = [];
    for (const o of objects) {
      if (o.kind === 'L2Network') {
        const r = l2NetworkSchema.safeParse(o);
        if (!r.success) errors.push(`L2Network/${o.metadata.name}: ${r.error.message}`);
      } else {
        errors.push(...(await validateBuiltinObject(o)));
      }
    }
    expect(errors).toEqual([]);
  });

  it('parses the agent and extender ConfigMaps with the real config schemas', () => {
    const agent = parseYamlConfig(configMapData(objects, 'lpm-agent-config')['agent.yaml']!, agentConfigSchema, 'agent.yaml');
    expect(agent.node, 'node comes from NODE_NAME, not the shared ConfigMap').toBeUndefined();
    expect(agent.discovery.kubernetes?.labelSelector).toBe('app.kubernetes.io/name=lpm-agent');
    const extender = parseYamlConfig(
      configMapData(objects, 'lpm-extender-config')['extender.yaml']!,
      extenderConfigSchema,
      'extender.yaml',
    );
    expect(extender.kubernetes.enabled).toBe(true);
    // Staleness is judged against the agents' real intervals.
    const interval = (type: string) => agent.measurements.find((m) => m.type === type)?.interval;
    expect(extender.staleness.rttInterval).toBe(interval('rtt'));
    expect(extender.staleness.bandwidthInterval).toBe(interval('bandwidth'));
    // ... and against their bandwidth window, which an RTT probe may have to wait out
    const bw = agent.measurements.find((m) => m.type === 'bandwidth')!;
    expect(extender.staleness.bandwidthWindow).toBe(windowSeconds(bw.iperf3));
    // The agents' own network never makes two pods peers.
    expect(extender.peers.ignoreNetworks).toContain('lpm-measurement');
    // docs/security.md: the decision log and web page only through port-forward; nothing crosses namespaces
    expect(extender.readApi.listen).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(extender.peers.crossNamespace).toEqual({ forward: [], reverse: [], networks: true });
    expect(extender.kubernetes.events).toBe(true);
  });

  it('agent: metrics port = agent config listen port, probes, config as a directory, downward API, no capabilities (unprivileged ICMP sockets)', () => {
    const c = onlyContainer(objects, 'DaemonSet', 'lpm-agent');
    const agent = parseYamlConfig(configMapData(objects, 'lpm-agent-config')['agent.yaml']!, agentConfigSchema);
    expect(portNumber(c, 'metrics')).toBe(9105);
    expect(listenPort(agent.listen)).toBe(portNumber(c, 'metrics'));
    expect(portNumber(c, 'iperf3')).toBe(agent.iperf3.port);
    const probe = (p: string) => (c[p] as { httpGet: { path: string; port: string } }).httpGet;
    expect(probe('readinessProbe')).toEqual({ path: '/readyz', port: 'metrics' });
    expect(probe('livenessProbe')).toEqual({ path: '/healthz', port: 'metrics' });

    expect(c.args?.[0]).toBe('agent');
    const configFile = flagValue(c.args!, '--config');
    expect(configMapBehind(objects, 'DaemonSet', 'lpm-agent', configFile)).toEqual({
      configMap: 'lpm-agent-config',
      key: 'agent.yaml',
    });

    const env = c.env as { name: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[];
    const field = (n: string) => env.find((e) => e.name === n)?.valueFrom?.fieldRef?.fieldPath;
    expect(field('NODE_NAME')).toBe('spec.nodeName');
    expect(field('POD_NAMESPACE')).toBe('metadata.namespace');

    const sc = c.securityContext as { capabilities: { add: string[]; drop: string[] }; readOnlyRootFilesystem: boolean; allowPrivilegeEscalation: boolean };
    expect(sc.capabilities).toEqual({ drop: ['ALL'] });
    expect(sc.allowPrivilegeEscalation).toBe(false);
    expect(sc.readOnlyRootFilesystem).toBe(true);
    const [pod] = podSpecsOf(find(objects, 'DaemonSet', 'lpm-agent'));
    const podSc = pod!.spec.securityContext as { runAsNonRoot: boolean; runAsGroup: number; sysctls: { name: string; value: string }[] };
    expect(podSc.runAsNonRoot).toBe(true);
    // ping needs no capability: the pod's group may open unprivileged ICMP echo sockets
    const range = podSc.sysctls.find((x) => x.name === 'net.ipv4.ping_group_range')?.value.split(/\s+/).map(Number);
    expect(range).toHaveLength(2);
    expect(podSc.runAsGroup).toBeGreaterThanOrEqual(range![0]!);
    expect(podSc.runAsGroup).toBeLessThanOrEqual(range![1]!);
    const res = c.resources as { requests: Record<string, string>; limits: Record<string, string> };
    expect(Object.keys(res.requests).sort()).toEqual(['cpu', 'memory']);
    expect(res.limits.memory).toBeDefined();
  });

  it('scheduler: KubeSchedulerConfiguration is valid and its extender URL = Service = container port = extender listen port', () => {
    const c = onlyContainer(objects, 'Deployment', 'lpm-scheduler');
    expect(c.image).toMatch(/^registry\.k8s\.io\/kube-scheduler:v\d+\.\d+\.\d+$/);
    const configFile = flagValue(c.command!, '--config');
    const { configMap, key } = configMapBehind(objects, 'Deployment', 'lpm-scheduler', configFile);
    const cfg = kubeSchedulerConfigurationSchema.parse(parseYaml(configMapData(objects, configMap)[key]!));

    expect(cfg.profiles).toHaveLength(1);
    expect(cfg.profiles![0]).toMatchObject({ schedulerName: 'lpm-scheduler', percentageOfNodesToScore: 100 });
    expect(cfg.leaderElection).toMatchObject({ leaderElect: true, resourceNamespace: NS, resourceName: 'lpm-scheduler' });
    expect(cfg.extenders).toHaveLength(1);
    const ext = cfg.extenders![0]!;
    expect(ext).toMatchObject({
      filterVerb: 'filter',
      prioritizeVerb: 'prioritize',
      nodeCacheCapable: true,
      ignorable: true,
      enableHTTPS: false,
    });
    // Enough to beat the resource plugins' 300-point swing, below the 900 of user preferences.
    expect(ext.weight! * 10 * 10).toBeGreaterThan(300);
    expect(ext.weight! * 10 * 10).toBeLessThan(900);

    const extenderUrl = serviceUrl(objects, 'lpm-extender');
    expect(ext.urlPrefix).toBe(extenderUrl);
    const containerPort = serviceTarget(objects, 'lpm-extender', 'Deployment', 'lpm-extender');
    const extender = parseYamlConfig(configMapData(objects, 'lpm-extender-config')['extender.yaml']!, extenderConfigSchema);
    expect(listenPort(extender.listen)).toBe(containerPort);
    expect(new URL(ext.urlPrefix).port).toBe(String(8888));

    // Leader election works only with a lease the scheduler may update.
    const role = find(objects, 'Role', 'lpm-scheduler-leader-election') as K8sObject & {
      rules: { resources: string[]; verbs: string[]; resourceNames?: string[] }[];
    };
    expect(role.rules.some((r) => r.resourceNames?.includes('lpm-scheduler') && r.verbs.includes('update'))).toBe(true);
    const bound = objects
      .filter((o) => o.kind === 'ClusterRoleBinding' && (o.subjects as { name: string }[]).some((s) => s.name === 'lpm-scheduler'))
      .map((o) => (o.roleRef as { name: string }).name);
    expect(bound.sort()).toEqual(['system:kube-scheduler', 'system:volume-scheduler']);
  });

  it('extender: 2 replicas, PDB, probes, RBAC: read pods, create events (nothing on nodes)', () => {
    const d = find(objects, 'Deployment', 'lpm-extender');
    expect((d.spec as { replicas: number }).replicas).toBe(2);
    const [pod] = podSpecsOf(d);
    const pdb = find(objects, 'PodDisruptionBudget', 'lpm-extender').spec as {
      minAvailable: number;
      selector: { matchLabels: Record<string, string> };
    };
    expect(pdb.minAvailable).toBe(1);
    for (const [k, v] of Object.entries(pdb.selector.matchLabels)) expect(pod!.labels[k]).toBe(v);
    const c = pod!.spec.containers[0]!;
    expect(c.args?.slice(0, 1)).toEqual(['extender']);
    expect(configMapBehind(objects, 'Deployment', 'lpm-extender', flagValue(c.args!, '--config'))).toEqual({
      configMap: 'lpm-extender-config',
      key: 'extender.yaml',
    });
    expect((c.readinessProbe as { httpGet: { path: string } }).httpGet.path).toBe('/readyz');
    expect((c.livenessProbe as { httpGet: { path: string } }).httpGet.path).toBe('/healthz');
    const role = find(objects, 'ClusterRole', 'lpm-extender') as K8sObject & {
      rules: { apiGroups: string[]; resources: string[]; verbs: string[] }[];
    };
    expect(role.rules).toEqual([
      { apiGroups: [''], resources: ['pods'], verbs: ['list', 'watch'] },
      { apiGroups: [''], resources: ['events'], verbs: ['create'] },
    ]);
  });

  it('extender Service: ClientIP session affinity pins the scheduler to one replica (the bind race memory is per replica)', () => {
    // Each replica remembers its own recent choices (PodIndex assumptions, until the watch sees
    // the binding or DEFAULT_ASSUME_TTL_MS passes): with 2 replicas, kube-scheduler's calls must
    // all reach the same one, or the next peer pod is scored without the last choice.
    const replicas = (find(objects, 'Deployment', 'lpm-extender').spec as { replicas: number }).replicas;
    const svc = find(objects, 'Service', 'lpm-extender').spec as {
      type?: string;
      clusterIP?: string;
      sessionAffinity?: string;
      sessionAffinityConfig?: { clientIP?: { timeoutSeconds?: number } };
    };
    if (replicas > 1) {
      expect(svc.sessionAffinity).toBe('ClientIP');
      // kube-proxy applies the affinity on a virtual IP: not headless, not a NodePort/LB detour
      expect(svc.clusterIP).not.toBe('None');
      expect(svc.type ?? 'ClusterIP').toBe('ClusterIP');
      // the pin must outlast an assumption, or an idle scheduler could switch replicas mid-race
      const timeout = svc.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? 10800;
      expect(timeout * 1000).toBeGreaterThanOrEqual(DEFAULT_ASSUME_TTL_MS);
    }
    // ClientIP pins per client: it is enough because one kube-scheduler calls at a time (a single
    // replica, or leader election: only the leader schedules), through that Service.
    const sched = find(objects, 'Deployment', 'lpm-scheduler').spec as { replicas?: number };
    const c = onlyContainer(objects, 'Deployment', 'lpm-scheduler');
    const { configMap, key } = configMapBehind(objects, 'Deployment', 'lpm-scheduler', flagValue(c.command!, '--config'));
    const cfg = kubeSchedulerConfigurationSchema.parse(parseYaml(configMapData(objects, configMap)[key]!));
    expect((sched.replicas ?? 1) === 1 || cfg.leaderElection?.leaderElect === true).toBe(true);
    expect(cfg.extenders!.map((e) => e.urlPrefix)).toEqual([serviceUrl(objects, 'lpm-extender')]);
  });

  it('Prometheus Service is what the extender source and the Grafana datasource use', () => {
    const url = serviceUrl(objects, 'lpm-prometheus');
    expect(serviceTarget(objects, 'lpm-prometheus', 'Deployment', 'lpm-prometheus')).toBe(9090);
    const extender = parseYamlConfig(configMapData(objects, 'lpm-extender-config')['extender.yaml']!, extenderConfigSchema);
    expect(extender.source).toMatchObject({ type: 'prometheus', url, recordingRules: true });

    const promArgs = onlyContainer(objects, 'Deployment', 'lpm-prometheus').args!;
    const { configMap, key } = configMapBehind(objects, 'Deployment', 'lpm-prometheus', flagValue(promArgs, '--config.file'));
    const promConfig = parseYaml(configMapData(objects, configMap)[key]!) as {
      global: { scrape_interval: string };
      rule_files: string[];
    };
    // Rule files are resolved next to prometheus.yml: they must be in the same ConfigMap.
    for (const f of promConfig.rule_files) expect(Object.keys(configMapData(objects, configMap))).toContain(f);

    const ds = grafanaDatasourcesSchema.parse(parseYaml(configMapData(objects, 'lpm-grafana-datasources')['datasource.yaml']!));
    expect(ds.datasources).toHaveLength(1);
    expect(ds.datasources[0]).toMatchObject({ type: 'prometheus', url, isDefault: true });
    expect(ds.datasources[0]!.jsonData?.timeInterval).toBe(promConfig.global.scrape_interval);
  });

  it('Grafana: provisioning files are valid and the provider reads the mounted dashboard ConfigMap', () => {
    const providers = grafanaDashboardProvidersSchema.parse(
      parseYaml(configMapData(objects, 'lpm-grafana-dashboard-providers')['dashboards.yaml']!),
    );
    const path = providers.providers[0]!.options.path;
    const dash = configMapBehind(objects, 'Deployment', 'lpm-grafana', `${path}/lpm-dashboard.json`);
    expect(dash).toEqual({ configMap: 'lpm-grafana-dashboards', key: 'lpm-dashboard.json' });
    expect(JSON.parse(configMapData(objects, dash.configMap)[dash.key]!)).toEqual(
      JSON.parse(readFileSync(M('grafana/lpm-dashboard.json'), 'utf8')),
    );
    for (const [file, dir] of [
      ['datasource.yaml', '/etc/grafana/provisioning/datasources'],
      ['dashboards.yaml', '/etc/grafana/provisioning/dashboards'],
    ] as const)
      expect(configMapBehind(objects, 'Deployment', 'lpm-grafana', `${dir}/${file}`).key).toBe(file);
  });

  it('every volume ConfigMap and ServiceAccount a pod uses exists; every image is pinned', () => {
    for (const o of objects) {
      for (const { spec } of podSpecsOf(o)) {
        for (const v of spec.volumes ?? []) if (v.configMap) find(objects, 'ConfigMap', v.configMap.name);
        const sa = spec.serviceAccountName as string | undefined;
        if (sa) {
          find(objects, 'ServiceAccount', sa);
          const bindings = objects.filter(
            (b) =>
              (b.kind === 'RoleBinding' || b.kind === 'ClusterRoleBinding') &&
              (b.subjects as { kind: string; name: string; namespace: string }[]).some(
                (s) => s.kind === 'ServiceAccount' && s.name === sa && s.namespace === NS,
              ),
          );
          expect(bindings.length, `${sa} has no role binding`).toBeGreaterThan(0);
        }
        for (const c of spec.containers) expect(c.image, `${o.kind}/${o.metadata.name}`).toMatch(/:[\w][\w.-]*$/);
        for (const c of spec.containers) expect(c.image).not.toMatch(/:latest$/);
      }
    }
  });
});

describeRendered('L2S-M attachment', () => {
  it('default overlay: the L2Network, the agent annotation and the agent config name the same network', () => {
    const objects = rendered.get('overlays/default')!;
    const net = l2NetworkSchema.parse(objects.find((o) => o.kind === 'L2Network'));
    expect(net.spec.type).toBe('vnet');
    const [pod] = podSpecsOf(find(objects, 'DaemonSet', 'lpm-agent'));
    const template = (find(objects, 'DaemonSet', 'lpm-agent').spec as { template: { metadata: { annotations: Record<string, string> } } })
      .template;
    const attached = parseL2smNetworks(template.metadata.annotations[L2SM_NETWORKS_ANNOTATION]);
    expect(attached).toEqual({ ok: true, value: [{ name: net.metadata.name, ips: [] }] });
    expect(pod!.labels.l2sm).toBe('true');
    expect(net.metadata.namespace).toBe(NS);
    const agent = parseYamlConfig(configMapData(objects, 'lpm-agent-config')['agent.yaml']!, agentConfigSchema);
    expect(agent.network).toBe(net.metadata.name);
  });

  it.each(['base', 'overlays/kind'] as const)('%s: no L2S-M, agents measure over the pod network', (name) => {
    const objects = rendered.get(name)!;
    expect(objects.some((o) => o.kind === 'L2Network')).toBe(false);
    const template = (find(objects, 'DaemonSet', 'lpm-agent').spec as { template: { metadata: { annotations?: object } } })
      .template;
    expect(template.metadata.annotations ?? {}).not.toHaveProperty(L2SM_NETWORKS_ANNOTATION);
    const agent = parseYamlConfig(configMapData(objects, 'lpm-agent-config')['agent.yaml']!, agentConfigSchema);
    expect(agent.network).toBe('pod-network');
  });
});

describeRendered('Prometheus keeps exactly the agent and extender metrics ports (promtool relabelling)', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'lpm-manifests-sd-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  // promtool waits for discovery until --timeout; static targets arrive at once, 2 s is ample.
  itWithCapabilities('for every overlay', missingPromtool, { timeout: 60_000 }, async () => {
    await Promise.all(KUSTOMIZATIONS.map(async (name) => {
      const objects = rendered.get(name)!;
      // What role: pod service discovery would find: one target per container port of every pod
      // template in the namespace, with the __meta labels Prometheus sets.
      const targets: { targets: string[]; labels: Record<string, string> }[] = [];
      objects.forEach((o, i) => {
        for (const { labels, spec } of podSpecsOf(o)) {
          for (const c of spec.containers) {
            for (const p of c.ports ?? []) {
              const meta: Record<string, string> = {
                __meta_kubernetes_namespace: o.metadata.namespace ?? '',
                __meta_kubernetes_pod_name: `${o.metadata.name}-x${i}`,
                __meta_kubernetes_pod_node_name: 'node-a',
                __meta_kubernetes_pod_phase: 'Running',
                __meta_kubernetes_pod_container_name: c.name,
                __meta_kubernetes_pod_container_port_name: p.name ?? '',
                __meta_kubernetes_pod_container_port_number: String(p.containerPort),
                __meta_kubernetes_pod_container_port_protocol: p.protocol ?? 'TCP',
              };
              for (const [k, v] of Object.entries(labels))
                meta[`__meta_kubernetes_pod_label_${k.replace(/[^a-zA-Z0-9_]/g, '_')}`] = v;
              targets.push({ targets: [`10.1.${i}.1:${p.containerPort}`], labels: meta });
            }
          }
        }
      });
      const data = configMapData(objects, 'lpm-prometheus-config');
      const config = parseYaml(data['prometheus.yml']!) as { scrape_configs: Record<string, unknown>[] };
      for (const job of config.scrape_configs) {
        if (job.kubernetes_sd_configs) {
          delete job.kubernetes_sd_configs;
          job.static_configs = targets;
        }
      }
      delete (config as { rule_files?: unknown }).rule_files;
      const file = join(dir, `${name.replace('/', '-')}.yml`);
      writeFileSync(file, stringify(config));
      const kept = async (job: string) => {
        const { stdout } = await execa('promtool', ['check', 'service-discovery', '--timeout=2s', file, job]);
        return (JSON.parse(stdout) as { labels: Record<string, string> }[])
          .map((t) => t.labels)
          .filter((l) => Object.keys(l).length > 0);
      };

      const agent = parseYamlConfig(configMapData(objects, 'lpm-agent-config')['agent.yaml']!, agentConfigSchema);
      const agentTargets = await kept('lpm-agent');
      expect(agentTargets, name).toHaveLength(1);
      expect(agentTargets[0]!.instance).toMatch(new RegExp(`:${listenPort(agent.listen)}$`));
      expect(agentTargets[0]).toMatchObject({ node: 'node-a', namespace: NS, __metrics_path__: '/metrics' });

      const extender = parseYamlConfig(configMapData(objects, 'lpm-extender-config')['extender.yaml']!, extenderConfigSchema);
      const extenderTargets = await kept('lpm-extender');
      expect(extenderTargets, name).toHaveLength(1);
      expect(extenderTargets[0]!.instance).toMatch(new RegExp(`:${listenPort(extender.listen)}$`));
    }));
  });
});

describe('dashboard', () => {
  const dashboard = JSON.parse(readFileSync(M('grafana/lpm-dashboard.json'), 'utf8')) as {
    __inputs: { name: string; type: string; pluginId: string }[];
    templating: { list: { name: string; type: string; query: unknown; datasource?: { uid: string } }[] };
    schemaVersion: number;
    uid: string;
  };
  const DS = '${DS_PROMETHEUS}';

  it('imports anywhere: the datasource input is used by every panel, target and query variable', () => {
    expect(dashboard.__inputs).toEqual([expect.objectContaining({ name: 'DS_PROMETHEUS', type: 'datasource', pluginId: 'prometheus' })]);
    // Provisioned (no import step), ${DS_PROMETHEUS} resolves through this datasource variable.
    expect(dashboard.templating.list.find((v) => v.name === 'DS_PROMETHEUS')).toMatchObject({ type: 'datasource', query: 'prometheus' });
    for (const v of dashboard.templating.list.filter((x) => x.type === 'query')) expect(v.datasource?.uid).toBe(DS);
    const panels = dashboardPanels(dashboard).filter((p) => p.type !== 'row');
    expect(panels.length).toBeGreaterThan(10);
    for (const p of panels as { title: string; datasource?: { uid: string; type: string }; targets?: { datasource?: { uid: string } }[] }[]) {
      expect(p.datasource, p.title).toEqual({ type: 'prometheus', uid: DS });
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      for (const t of p.targets!) expect(t.datasource?.uid, p.title).toBe(DS);
    }
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(dashboard.uid).toMatch(/^[a-zA-Z0-9-_]{1,40}$/);
  });

  it('has the matrices, per-link series, heatmap, errors and extender panels', () => {
    const panels = dashboardPanels(dashboard) as {
      type: string;
      title: string;
      transformations?: { id: string; options: Record<string, string> }[];
      targets?: { expr: string; format?: string }[];
    }[];
    const matrices = panels.filter((p) => p.transformations?.some((t) => t.id === 'groupingToMatrix'));
    expect(matrices.map((p) => p.type)).toEqual(['table', 'table', 'table', 'table']);
    for (const p of matrices)
      expect(p.transformations![0]!.options).toMatchObject({ rowField: 'source_node', columnField: 'target_node', valueField: 'Value' });
    const exprs = dashboardQueries(dashboard).map((q) => q.rawExpr);
    const uses = (s: string) => exprs.some((e) => e.includes(s));
    for (const s of [
      'lpm:link_rtt_seconds:latest',
      'lpm:link_bandwidth_bytes_per_second:latest',
      'lpm:link_packet_loss_ratio:avg5m',
      'lpm_link_jitter_seconds{',
      'source_node=~"$source"',
      'lpm_measurements_total{result!="success"}',
      'lpm_extender_decisions_total',
      'lpm_extender_request_duration_seconds_bucket',
      'lpm_extender_nodes_filtered_total',
      'lpm_extender_matrix_age_seconds',
    ])
      expect(uses(s), s).toBe(true);
    const heatmap = panels.find((p) => p.type === 'heatmap');
    expect(heatmap?.targets?.[0]).toMatchObject({ format: 'heatmap' });
    expect(heatmap?.targets?.[0]?.expr).toContain('lpm_probe_rtt_seconds_bucket');
    const vars = dashboard.templating.list.filter((v) => v.type === 'query').map((v) => (v.query as { query: string }).query);
    expect(vars).toContain('label_values(lpm_link_rtt_seconds, source_node)');
  });

  it('reads only recording rules that manifests/prometheus/recording-rules.yaml defines', () => {
    const rules = parseYaml(readFileSync(M('prometheus/recording-rules.yaml'), 'utf8')) as {
      groups: { rules: { record: string }[] }[];
    };
    const recorded = new Set(rules.groups.flatMap((g) => g.rules.map((r) => r.record)));
    const used = dashboardQueries(dashboard).flatMap((q) => q.expr.match(/lpm:[a-z_:0-9]+/g) ?? []);
    expect(used.length).toBeGreaterThan(0);
    for (const name of used) expect(recorded, name).toContain(name);
  });
});

describeRendered('examples', () => {
  const schedulerName = () => {
    const cfg = kubeSchedulerConfigurationSchema.parse(
      parseYaml(configMapData(rendered.get('base')!, 'lpm-scheduler-config')['lpm-scheduler-config.yaml']!),
    );
    return cfg.profiles![0]!.schedulerName;
  };

  it('there are examples', () => expect(exampleFiles.length).toBeGreaterThan(0));

  it.each(exampleFiles)('%s: valid objects, lpm-scheduler, annotations lpm can read', async (file) => {
    const objects = readYamlObjects(M(`examples/${file}`));
    const errors: string[] = [];
    let pods = 0;
    for (const o of objects) {
      if (o.kind === 'L2Network') {
        // Examples go to the user's namespace: validate as if applied to "default".
        const r = l2NetworkSchema.safeParse({ ...o, metadata: { namespace: 'default', ...o.metadata } });
        if (!r.success) errors.push(r.error.message);
        continue;
      }
      errors.push(...(await validateBuiltinObject(o)));
      for (const { spec, owner } of podSpecsOf(o)) {
        pods++;
        expect(spec.schedulerName, `${o.kind}/${o.metadata.name}`).toBe(schedulerName());
        const meta =
          owner.kind === 'Pod'
            ? owner.metadata
            : (owner.spec as { template: { metadata: { annotations?: Record<string, string> } } }).template.metadata;
        const ann = (meta.annotations ?? {}) as Record<string, string>;
        if (ann[L2SM_NETWORKS_ANNOTATION] !== undefined) expect(parseL2smNetworks(ann[L2SM_NETWORKS_ANNOTATION]).ok).toBe(true);
        expect(parsePeerSelectors(ann[PEERS_ANNOTATION]).warnings).toEqual([]);
        expect(parsePeerWeights(ann[PEER_WEIGHTS_ANNOTATION]).warnings).toEqual([]);
        expect(parsePodLimits(ann).warnings).toEqual([]);
      }
    }
    expect(errors).toEqual([]);
    expect(pods).toBeGreaterThan(0);
  });

  it('together they use every lpm annotation', () => {
    const text = exampleFiles.map((f) => readFileSync(M(`examples/${f}`), 'utf8')).join('\n');
    for (const a of [L2SM_NETWORKS_ANNOTATION, PEERS_ANNOTATION, PEER_WEIGHTS_ANNOTATION, MAX_RTT_ANNOTATION, MIN_BANDWIDTH_ANNOTATION])
      expect(text).toContain(`${a}:`);
  });
});

describeRendered('the validators catch mistakes (so the checks above can fail)', () => {
  it('rejects a misspelt field, a wrong type and an unknown scheduler field', async () => {
    const ds = structuredClone(find(rendered.get('base')!, 'DaemonSet', 'lpm-agent'));
    const [pod] = podSpecsOf(ds);
    const c = pod!.spec.containers[0]!;
    c.readinesProbe = c.readinessProbe;
    c.ports![0]!.containerPort = '9105' as unknown as number;
    const errors = await validateBuiltinObject(ds);
    expect(errors.some((e) => e.includes('unknown field .spec.template.spec.containers[0].readinesProbe'))).toBe(true);
    expect(errors.some((e) => e.includes('containerPort'))).toBe(true);

    const cfg = parseYaml(configMapData(rendered.get('base')!, 'lpm-scheduler-config')['lpm-scheduler-config.yaml']!) as {
      extenders: Record<string, unknown>[];
    };
    cfg.extenders[0]!.nodeCacheable = true;
    expect(kubeSchedulerConfigurationSchema.safeParse(cfg).success).toBe(false);
  });
});

// Security: what lpm's own manifests may do in a cluster. Each check is a function returning the
// problems it finds, so the last test can show that it finds them.
describeRendered('security: RBAC is read-only and minimal, containers hold only the capabilities they need', () => {
  type Rule = { apiGroups?: string[]; resources?: string[]; verbs: string[]; resourceNames?: string[]; nonResourceURLs?: string[] };
  const READ = new Set(['get', 'list', 'watch']);
  /** What each of our roles may read: anything more must be added here, with a reason. */
  const READS: Record<string, string[]> = {
    // the agent discovers its targets by watching the agent pods of its own namespace
    'Role/lpm-agent': ['pods'],
    // the extender places peers (pods in any namespace) on nodes; it reads no Node objects
    'ClusterRole/lpm-extender': ['pods'],
    // Prometheus service discovery of the agents and the extender, own namespace only
    'Role/lpm-prometheus': ['endpoints', 'pods', 'services'],
    // the lpm-scheduler reads its leader-election lease (see WRITES)
    'Role/lpm-scheduler-leader-election': ['leases'],
  };
  /**
   * The only writes: upstream kube-scheduler's leader election. `create` cannot be limited to a
   * name (the lease does not exist yet); every other write is limited to our own lease.
   */
  const WRITES: Array<{ role: string; apiGroup: string; resource: string; verbs: string[]; resourceNames?: string[] }> = [
    // the extender's Events on pods whose annotations it ignored (over a cap): create only, core group
    { role: 'ClusterRole/lpm-extender', apiGroup: '', resource: 'events', verbs: ['create'] },
    { role: 'Role/lpm-scheduler-leader-election', apiGroup: 'coordination.k8s.io', resource: 'leases', verbs: ['create'] },
    {
      role: 'Role/lpm-scheduler-leader-election',
      apiGroup: 'coordination.k8s.io',
      resource: 'leases',
      verbs: ['update', 'patch'],
      resourceNames: ['lpm-scheduler'],
    },
  ];
  /**
   * ClusterRoles we bind but do not define: the upstream kube-scheduler binary needs exactly what
   * the cluster's own scheduler has (Kubernetes maintains these roles), bound to lpm-scheduler only.
   */
  const SYSTEM_ROLES: Record<string, string[]> = {
    'system:kube-scheduler': ['lpm-scheduler'],
    'system:volume-scheduler': ['lpm-scheduler'],
  };

  function rbacProblems(objects: K8sObject[]): string[] {
    const problems: string[] = [];
    const roles = new Map(objects.filter((o) => o.kind === 'Role' || o.kind === 'ClusterRole').map((o) => [`${o.kind}/${o.metadata.name}`, o]));
    for (const [id, role] of roles) {
      const reads = READS[id];
      if (!reads) problems.push(`${id}: not in the list of known roles`);
      for (const rule of (role as K8sObject & { rules?: Rule[] }).rules ?? []) {
        const where = `${id} ${JSON.stringify(rule)}`;
        if (rule.nonResourceURLs) problems.push(`${where}: non-resource URLs`);
        for (const field of [rule.apiGroups, rule.resources, rule.verbs]) if (field?.includes('*')) problems.push(`${where}: wildcard`);
        const writes = rule.verbs.filter((v) => !READ.has(v));
        for (const res of rule.resources ?? []) {
          if (res.includes('/')) problems.push(`${where}: subresource ${res}`);
          // a write-only rule (no read verb) names what WRITES allows, checked below
          if (!reads?.includes(res) && writes.length < rule.verbs.length) problems.push(`${where}: resource ${res} is not among ${id}'s reads`);
        }
        if (writes.length === 0) continue;
        const allowed = WRITES.some(
          (w) =>
            w.role === id &&
            rule.apiGroups?.length === 1 &&
            rule.apiGroups[0] === w.apiGroup &&
            rule.resources?.length === 1 &&
            rule.resources[0] === w.resource &&
            writes.every((v) => w.verbs.includes(v)) &&
            JSON.stringify(rule.resourceNames ?? null) === JSON.stringify(w.resourceNames ?? null),
        );
        if (!allowed) problems.push(`${where}: writes (${writes.join(', ')})`);
      }
    }
    for (const b of objects.filter((o) => o.kind === 'RoleBinding' || o.kind === 'ClusterRoleBinding')) {
      const ref = b.roleRef as { kind: string; name: string };
      const subjects = ((b.subjects as { kind: string; name: string }[] | undefined) ?? []).map((s) => `${s.kind}/${s.name}`);
      if (b.kind === 'ClusterRoleBinding' && ref.kind === 'ClusterRole' && SYSTEM_ROLES[ref.name]) {
        const want = SYSTEM_ROLES[ref.name]!.map((n) => `ServiceAccount/${n}`);
        if (JSON.stringify(subjects) !== JSON.stringify(want)) problems.push(`${b.kind}/${b.metadata.name}: ${ref.name} bound to ${subjects.join(', ')}`);
        continue;
      }
      if (!roles.has(`${ref.kind}/${ref.name}`)) problems.push(`${b.kind}/${b.metadata.name}: binds ${ref.kind}/${ref.name}, which lpm does not define`);
      if (b.kind === 'ClusterRoleBinding' && ref.kind === 'ClusterRole' && subjects.some((s) => !s.startsWith('ServiceAccount/')))
        problems.push(`${b.kind}/${b.metadata.name}: binds a user or group`);
    }
    return problems;
  }

  type SecurityContext = {
    privileged?: boolean;
    allowPrivilegeEscalation?: boolean;
    capabilities?: { drop?: string[]; add?: string[] };
    runAsUser?: number;
    runAsNonRoot?: boolean;
    seccompProfile?: { type: string };
  };
  /** Volume types the "restricted" Pod Security level allows. */
  const RESTRICTED_VOLUMES = new Set(['configMap', 'csi', 'downwardAPI', 'emptyDir', 'ephemeral', 'persistentVolumeClaim', 'projected', 'secret']);

  /**
   * What keeps a pod from the "restricted" Pod Security level (a fast mirror of the real admission
   * check, which test/integration/manifests-api.test.ts runs against kube-apiserver), plus ours:
   * every container drops ALL and adds nothing (not even NET_BIND_SERVICE; the agent's ping uses
   * unprivileged ICMP sockets), nothing privileged, no host namespaces.
   */
  function containerProblems(objects: K8sObject[]): string[] {
    const problems: string[] = [];
    for (const o of objects)
      for (const { spec } of podSpecsOf(o)) {
        const owner = `${o.kind}/${o.metadata.name}`;
        for (const key of ['hostNetwork', 'hostPID', 'hostIPC'] as const) if (spec[key] === true) problems.push(`${owner}: ${key}`);
        const podSc = (spec.securityContext ?? {}) as SecurityContext;
        if (podSc.runAsUser === 0) problems.push(`${owner}: runs as root`);
        for (const v of spec.volumes ?? []) {
          const type = Object.keys(v).find((k) => k !== 'name');
          if (!type || !RESTRICTED_VOLUMES.has(type)) problems.push(`${owner}: volume ${v.name} is ${type ?? 'of no type'}`);
        }
        const all = [...spec.containers, ...((spec.initContainers as ContainerLike[] | undefined) ?? [])];
        for (const c of all) {
          const id = `${owner}/${c.name}`;
          const sc = (c.securityContext ?? {}) as SecurityContext;
          if (sc.privileged === true) problems.push(`${id}: privileged`);
          if (sc.runAsUser === 0) problems.push(`${id}: runs as root`);
          if ((sc.runAsNonRoot ?? podSc.runAsNonRoot) !== true) problems.push(`${id}: runAsNonRoot is not set`);
          if (!['RuntimeDefault', 'Localhost'].includes((sc.seccompProfile ?? podSc.seccompProfile)?.type ?? ''))
            problems.push(`${id}: no RuntimeDefault seccomp profile`);
          if (JSON.stringify(sc.capabilities?.drop) !== JSON.stringify(['ALL'])) problems.push(`${id}: does not drop ALL capabilities`);
          const add = [...(sc.capabilities?.add ?? [])].sort();
          if (add.length > 0) problems.push(`${id}: adds ${add.join(', ')}`);
          if (sc.allowPrivilegeEscalation !== false) problems.push(`${id}: allowPrivilegeEscalation is not false`);
        }
      }
    return problems;
  }

  describe.each(KUSTOMIZATIONS)('kustomization %s', (name) => {
    const objects = rendered.get(name)!;

    it('every role only reads (get, list, watch), except the scheduler lease; only known system roles are bound', () => {
      expect(rbacProblems(objects)).toEqual([]);
      // every role in the lists exists, so the lists do not outgrow the manifests
      const ids = objects.filter((o) => o.kind === 'Role' || o.kind === 'ClusterRole').map((o) => `${o.kind}/${o.metadata.name}`);
      expect(ids.sort()).toEqual(Object.keys(READS).sort());
      expect(objects.some((o) => o.kind === 'ClusterRole' && o.metadata.name.startsWith('system:'))).toBe(false);
    });

    it('every container meets Pod Security "restricted": drops ALL capabilities and adds none, no privilege escalation, non-root, RuntimeDefault seccomp; no host namespaces', () => {
      const containers = objects.flatMap((o) => podSpecsOf(o).flatMap(({ spec }) => spec.containers.map((c) => `${o.kind}/${o.metadata.name}/${c.name}`)));
      expect(containers).toContain('DaemonSet/lpm-agent/agent');
      expect(containers.length).toBeGreaterThanOrEqual(5); // agent, extender, scheduler, Prometheus, Grafana
      expect(containerProblems(objects)).toEqual([]);
    });

    it('the namespace enforces (and warns and audits) the "restricted" Pod Security level', () => {
      const labels = find(objects, 'Namespace', NS).metadata.labels as Record<string, string>;
      for (const mode of ['enforce', 'warn', 'audit']) expect(labels[`pod-security.kubernetes.io/${mode}`], mode).toBe('restricted');
    });
  });

  it('the checks find what they look for', () => {
    const objects = structuredClone(rendered.get('base')!);
    const role = find(objects, 'Role', 'lpm-agent') as K8sObject & { rules: Rule[] };
    role.rules.push({ apiGroups: [''], resources: ['pods'], verbs: ['delete'] }, { apiGroups: [''], resources: ['secrets'], verbs: ['get'] });
    const lease = find(objects, 'Role', 'lpm-scheduler-leader-election') as K8sObject & { rules: Rule[] };
    lease.rules[1]!.resourceNames = undefined; // update any lease, not just ours
    const crb = objects.find((o) => o.kind === 'ClusterRoleBinding' && (o.roleRef as { name: string }).name === 'system:kube-scheduler')!;
    (crb.subjects as { kind: string; name: string }[]).push({ kind: 'ServiceAccount', name: 'lpm-agent' });
    objects.push({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: 'x' }, roleRef: { kind: 'ClusterRole', name: 'cluster-admin' }, subjects: [] });
    const rbac = rbacProblems(objects);
    expect(rbac).toEqual([
      expect.stringMatching(/^Role\/lpm-agent .*"delete".*: writes \(delete\)$/),
      expect.stringMatching(/^Role\/lpm-agent .*: resource secrets is not among Role\/lpm-agent's reads$/),
      expect.stringMatching(/^Role\/lpm-scheduler-leader-election .*: writes \(update, patch\)$/),
      expect.stringMatching(/system:kube-scheduler bound to ServiceAccount\/lpm-scheduler, ServiceAccount\/lpm-agent$/),
      'ClusterRoleBinding/x: binds ClusterRole/cluster-admin, which lpm does not define',
    ]);

    const [agentPod] = podSpecsOf(find(objects, 'DaemonSet', 'lpm-agent'));
    const agent = agentPod!.spec.containers[0]!;
    (agent.securityContext as SecurityContext).capabilities!.add = ['NET_RAW', 'NET_ADMIN'];
    agentPod!.spec.hostNetwork = true;
    agentPod!.spec.volumes!.push({ name: 'host', hostPath: { path: '/' } });
    const [extPod] = podSpecsOf(find(objects, 'Deployment', 'lpm-extender'));
    const ext = extPod!.spec.containers[0]!;
    Object.assign(ext.securityContext as SecurityContext, { privileged: true, allowPrivilegeEscalation: true });
    (ext.securityContext as SecurityContext).capabilities = {};
    const [promPod] = podSpecsOf(find(objects, 'Deployment', 'lpm-prometheus'));
    delete (promPod!.spec.securityContext as SecurityContext).seccompProfile;
    delete (promPod!.spec.securityContext as SecurityContext).runAsNonRoot;
    const prom = promPod!.spec.containers[0]!.name;
    expect(containerProblems(objects).sort()).toEqual(
      [
        'DaemonSet/lpm-agent: hostNetwork',
        'DaemonSet/lpm-agent: volume host is hostPath',
        'DaemonSet/lpm-agent/agent: adds NET_ADMIN, NET_RAW',
        'Deployment/lpm-extender/lpm-extender: privileged',
        'Deployment/lpm-extender/lpm-extender: does not drop ALL capabilities',
        'Deployment/lpm-extender/lpm-extender: allowPrivilegeEscalation is not false',
        `Deployment/lpm-prometheus/${prom}: runAsNonRoot is not set`,
        `Deployment/lpm-prometheus/${prom}: no RuntimeDefault seccomp profile`,
      ]
        .map((s) => s.replace('lpm-extender/lpm-extender', `lpm-extender/${ext.name}`))
        .sort(),
    );
  });
});

// NetworkPolicies (manifests/base/network-policies.yaml): for every port a workload exposes, which
// workloads may reach it. The table below is the intent; a new port, a widened rule or a policy
// that no longer selects its pods fails here. (NetworkPolicies govern the pod network only: not
// hostNetwork pods, not the L2S-M interface; see docs/security.md.)
describeRendered('security: NetworkPolicies let each port be reached by its clients only', () => {
  type LabelSelector = { matchLabels?: Record<string, string>; matchExpressions?: unknown[] };
  type PolicyPeer = { podSelector?: LabelSelector; namespaceSelector?: LabelSelector; ipBlock?: unknown };
  type PolicyPort = { protocol?: string; port?: number | string; endPort?: number };
  type IngressRule = { from?: PolicyPeer[]; ports?: PolicyPort[] };
  type Policy = K8sObject & { spec: { podSelector: LabelSelector; policyTypes?: string[]; ingress?: IngressRule[] } };

  const ANYONE = 'anyone';
  /**
   * Who may reach each port, by the workloads' app.kubernetes.io/name (ANYONE: any source). The
   * agents reach each other on every port: ping's ICMP cannot be named in a NetworkPolicy, so the
   * agent-to-agent rule has no ports, and that includes 9105.
   */
  const EXPECTED: Record<string, string[]> = {
    'lpm-extender 8888/TCP': ['lpm-prometheus', 'lpm-scheduler'],
    'lpm-agent 9105/TCP': ['lpm-agent', 'lpm-extender', 'lpm-prometheus'],
    'lpm-agent 5201/TCP': ['lpm-agent'],
    'lpm-agent 5201/UDP': ['lpm-agent'],
    'lpm-prometheus 9090/TCP': ['lpm-extender', 'lpm-grafana'],
    'lpm-grafana 3000/TCP': [],
    'lpm-scheduler 10259/TCP': [],
  };
  /** Ports no workload declares today but that must stay agent-only: iperf3.udpPort (the original LPM's 5202). */
  const AGENT_ONLY_EXTRA = ['lpm-agent 5202/TCP', 'lpm-agent 5202/UDP'];

  const appName = (labels: Record<string, string>) => labels['app.kubernetes.io/name'] ?? '(unnamed)';
  function selects(sel: LabelSelector | undefined, labels: Record<string, string>): boolean {
    if (!sel) return false;
    if (sel.matchExpressions?.length) throw new Error('matchExpressions: not used by lpm, teach this test first');
    return Object.entries(sel.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
  }
  const portMatches = (p: PolicyPort, port: { containerPort: number; protocol: string; name?: string }) =>
    (p.protocol ?? 'TCP') === port.protocol &&
    (p.port === undefined ||
      (typeof p.port === 'string' ? p.port === port.name : p.endPort !== undefined ? port.containerPort >= p.port && port.containerPort <= p.endPort : p.port === port.containerPort));

  function workloads(objects: K8sObject[]) {
    return objects.flatMap((o) => podSpecsOf(o).map((p) => ({ ...p, id: `${o.kind}/${o.metadata.name}`, namespace: o.metadata.namespace })));
  }
  const policiesOf = (objects: K8sObject[]) => objects.filter((o): o is Policy => o.kind === 'NetworkPolicy');

  /** The workloads (or ANYONE) that may reach `port` of the pods labelled `labels`; ANYONE when no policy isolates them. */
  function reachers(objects: K8sObject[], labels: Record<string, string>, port: { containerPort: number; protocol: string; name?: string }): string[] {
    const isolating = policiesOf(objects).filter(
      (p) => p.metadata.namespace === NS && selects(p.spec.podSelector, labels) && (p.spec.policyTypes ?? ['Ingress']).includes('Ingress'),
    );
    if (isolating.length === 0) return [ANYONE];
    const from = new Set<string>();
    for (const rule of isolating.flatMap((p) => p.spec.ingress ?? [])) {
      if (rule.ports?.length && !rule.ports.some((p) => portMatches(p, port))) continue;
      if (!rule.from?.length) return [ANYONE];
      for (const peer of rule.from) {
        // another namespace or an address range: any pod there, or anything at all
        if (peer.ipBlock || peer.namespaceSelector || !peer.podSelector) return [ANYONE];
        for (const w of workloads(objects)) if (w.namespace === NS && selects(peer.podSelector, w.labels)) from.add(appName(w.labels));
      }
    }
    return [...from].sort();
  }

  function policyProblems(objects: K8sObject[]): string[] {
    const problems: string[] = [];
    const seen = new Set<string>();
    for (const w of workloads(objects)) {
      const app = appName(w.labels);
      if (w.spec.hostNetwork === true) problems.push(`${w.id}: hostNetwork: NetworkPolicies do not apply to it`);
      const ports = w.spec.containers.flatMap((c) => (c.ports ?? []).map((p) => ({ ...p, protocol: p.protocol ?? 'TCP' })));
      const extra = app === 'lpm-agent' ? AGENT_ONLY_EXTRA.map((k) => ({ containerPort: Number(/ (\d+)\//.exec(k)![1]), protocol: k.split('/')[1]! })) : [];
      for (const port of [...ports, ...extra]) {
        const key = `${app} ${port.containerPort}/${port.protocol}`;
        seen.add(key);
        const want = EXPECTED[key] ?? (AGENT_ONLY_EXTRA.includes(key) ? ['lpm-agent'] : undefined);
        const got = reachers(objects, w.labels, port);
        if (!want) problems.push(`${key}: a port without a NetworkPolicy expectation (reached by ${got.join(', ') || 'nobody'})`);
        else if (JSON.stringify(got) !== JSON.stringify([...want].sort())) problems.push(`${key}: reached by ${got.join(', ') || 'nobody'}, expected ${want.join(', ') || 'nobody'}`);
      }
    }
    for (const key of Object.keys(EXPECTED)) if (!seen.has(key)) problems.push(`${key}: expected, but no workload exposes it`);
    for (const p of policiesOf(objects)) {
      if (p.metadata.namespace !== NS) problems.push(`NetworkPolicy/${p.metadata.name}: not in ${NS}`);
      if (!workloads(objects).some((w) => selects(p.spec.podSelector, w.labels))) problems.push(`NetworkPolicy/${p.metadata.name}: selects no pod`);
    }
    return problems;
  }

  describe.each(KUSTOMIZATIONS)('kustomization %s', (name) => {
    const objects = rendered.get(name)!;

    it('every port of every Deployment and DaemonSet is reached by exactly the expected workloads', () => {
      expect(policyProblems(objects)).toEqual([]);
    });

    it('every pod in lpm-system is isolated for ingress (the default deny selects them all)', () => {
      const deny = find(objects, 'NetworkPolicy', 'lpm-default-deny-ingress') as Policy;
      expect(deny.spec).toEqual({ podSelector: {}, policyTypes: ['Ingress'] });
      for (const w of workloads(objects)) expect(reachers(objects, w.labels, { containerPort: 1, protocol: 'TCP' }), w.id).not.toContain(ANYONE);
    });

    it("the agents' iperf3 ports (config iperf3.port, TCP and UDP; iperf3.udpPort) are reached by agents only", () => {
      const agent = parseYamlConfig(configMapData(objects, 'lpm-agent-config')['agent.yaml']!, agentConfigSchema);
      const [pod] = podSpecsOf(find(objects, 'DaemonSet', 'lpm-agent'));
      for (const port of [agent.iperf3.port, agent.iperf3.udpPort ?? 5202])
        for (const protocol of ['TCP', 'UDP']) expect(reachers(objects, pod!.labels, { containerPort: port, protocol }), `${port}/${protocol}`).toEqual(['lpm-agent']);
      // and the metrics port is the config's listen port
      expect(reachers(objects, pod!.labels, { containerPort: listenPort(agent.listen), protocol: 'TCP' })).toEqual(['lpm-agent', 'lpm-extender', 'lpm-prometheus']);
    });

    it('the extender listen port (kube-scheduler calls it) is reached by lpm-scheduler and Prometheus only', () => {
      const extender = parseYamlConfig(configMapData(objects, 'lpm-extender-config')['extender.yaml']!, extenderConfigSchema);
      const [pod] = podSpecsOf(find(objects, 'Deployment', 'lpm-extender'));
      expect(reachers(objects, pod!.labels, { containerPort: listenPort(extender.listen), protocol: 'TCP' })).toEqual(['lpm-prometheus', 'lpm-scheduler']);
    });
  });

  it('the checks find what they look for', () => {
    const objects = structuredClone(rendered.get('base')!);
    // a new port nobody thought about, a rule opened to everyone, a widened agent rule, hostNetwork
    const [grafana] = podSpecsOf(find(objects, 'Deployment', 'lpm-grafana'));
    grafana!.spec.containers[0]!.ports!.push({ name: 'debug', containerPort: 6060, protocol: 'TCP' });
    (find(objects, 'NetworkPolicy', 'lpm-prometheus') as Policy).spec.ingress!.push({ ports: [{ protocol: 'TCP', port: 9090 }] });
    (find(objects, 'NetworkPolicy', 'lpm-extender') as Policy).spec.ingress![0]!.from!.push({ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'lpm-agent' } } });
    const [agent] = podSpecsOf(find(objects, 'DaemonSet', 'lpm-agent'));
    agent!.spec.hostNetwork = true;
    (find(objects, 'NetworkPolicy', 'lpm-scheduler') as Policy).spec.podSelector = { matchLabels: { 'app.kubernetes.io/name': 'kube-scheduler' } };
    expect(policyProblems(objects).sort()).toEqual(
      [
        'DaemonSet/lpm-agent: hostNetwork: NetworkPolicies do not apply to it',
        'lpm-extender 8888/TCP: reached by lpm-agent, lpm-prometheus, lpm-scheduler, expected lpm-prometheus, lpm-scheduler',
        'lpm-grafana 6060/TCP: a port without a NetworkPolicy expectation (reached by nobody)',
        'lpm-prometheus 9090/TCP: reached by anyone, expected lpm-extender, lpm-grafana',
        'NetworkPolicy/lpm-scheduler: selects no pod',
      ].sort(),
    );
    // without the default deny, a pod no other policy selects is open to anyone
    const open = structuredClone(rendered.get('base')!).filter((o) => !(o.kind === 'NetworkPolicy' && ['lpm-default-deny-ingress', 'lpm-grafana'].includes(o.metadata.name)));
    expect(policyProblems(open)).toEqual(['lpm-grafana 3000/TCP: reached by anyone, expected nobody']);
  });
});
