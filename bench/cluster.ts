// A synthetic cluster for the benchmarks, the way kubemark fakes nodes: N nodes with realistic
// Node objects (~4 KB of JSON each, shaped like test/fixtures/kube-scheduler/*captured*), a pod
// population (`podsPerNode` background pods per node, some on L2S-M networks, some declaring
// peers by selector, so peer resolution has real work), three pending pods to schedule with
// 0, 10 and 100 placed peers, and a link matrix.
//
// Deterministic from its parameters (seeded PRNG): the benchmark process builds the request
// bodies and the server process builds the pod store and matrix from the same parameters.
import { LinkMatrix } from '../src/linkMatrix.js';
import type { PodInfo } from '../extender/pods/podStore.js';
import { podObject } from '../scenarios/runner/podObject.js';

export interface ClusterSpec {
  nodes: number;
  /** Background pods per node (Kubernetes' scalability limit is 150 000 pods at 5000 nodes: 30). */
  podsPerNode: number;
  /** Peer counts of the pods under test. */
  peerCounts: readonly number[];
  seed?: number;
}

/** The pending pod with `peers` placed peers that the benchmark asks the extender about. */
export interface TestPod {
  peers: number;
  info: PodInfo;
  /** The Pod object as kube-scheduler sends it in ExtenderArgs.Pod. */
  object: Record<string, unknown>;
}

export interface Cluster {
  spec: ClusterSpec;
  nodeNames: string[];
  pods: PodInfo[];
  testPods: TestPod[];
  /** Unix seconds the matrix values are dated against. */
  now: number;
}

/** mulberry32: small, fast, good enough to spread pods over nodes reproducibly. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const nodeName = (i: number): string => `node-${String(i).padStart(5, '0')}`;

const uid = (kind: number, i: number) => `${kind.toString(16).padStart(8, '0')}-0000-4000-8000-${i.toString(16).padStart(12, '0')}`;

const fieldsV1 = (keys: string[]) => Object.fromEntries([['.', {}], ...keys.map((k) => [`f:${k}`, {}])]) as Record<string, unknown>;

/** One metadata.managedFields entry, as the API server records an update. */
const managedField = (manager: string, time: string, fields: Record<string, unknown>, subresource?: string) => ({
  manager,
  operation: 'Update',
  apiVersion: 'v1',
  time,
  fieldsType: 'FieldsV1',
  fieldsV1: fields,
  ...(subresource ? { subresource } : {}),
});

/** One Node object as the API server serves it (kubelet-managed fields included), about 4 KB. */
export function nodeObject(i: number): Record<string, unknown> {
  const name = nodeName(i);
  const zone = `zone-${i % 3}`;
  const ip = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
  const t = '2026-11-22T17:01:49Z';
  const conditions = [
    ['MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'],
    ['DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'],
    ['PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'],
    ['Ready', 'True', 'KubeletReady', 'kubelet is posting ready status. AppArmor enabled'],
  ].map(([type, status, reason, message]) => ({ type, status, lastHeartbeatTime: t, lastTransitionTime: t, reason, message }));
  return {
    metadata: {
      name,
      uid: uid(1, i),
      resourceVersion: String(100_000 + i),
      creationTimestamp: t,
      labels: {
        'beta.kubernetes.io/arch': 'amd64',
        'beta.kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        'kubernetes.io/hostname': name,
        'kubernetes.io/os': 'linux',
        'node.kubernetes.io/instance-type': 'n2-standard-8',
        'topology.kubernetes.io/region': 'region-1',
        'topology.kubernetes.io/zone': zone,
      },
      annotations: {
        'kubeadm.alpha.kubernetes.io/cri-socket': 'unix:///run/containerd/containerd.sock',
        'node.alpha.kubernetes.io/ttl': '0',
        'volumes.kubernetes.io/controller-managed-attach-detach': 'true',
      },
      managedFields: [
        managedField('kubelet', t, {
          'f:metadata': {
            'f:annotations': fieldsV1(['node.alpha.kubernetes.io/ttl', 'volumes.kubernetes.io/controller-managed-attach-detach']),
            'f:labels': fieldsV1(['beta.kubernetes.io/arch', 'beta.kubernetes.io/os', 'kubernetes.io/arch', 'kubernetes.io/hostname', 'kubernetes.io/os']),
          },
        }),
        managedField(
          'kubelet',
          t,
          {
            'f:status': {
              'f:allocatable': fieldsV1(['cpu', 'ephemeral-storage', 'memory', 'pods']),
              'f:capacity': fieldsV1(['cpu', 'ephemeral-storage', 'memory', 'pods']),
              'f:conditions': fieldsV1(['lastHeartbeatTime', 'lastTransitionTime', 'message', 'reason', 'status', 'type']),
              'f:images': {},
              'f:nodeInfo': fieldsV1(['architecture', 'bootID', 'containerRuntimeVersion', 'kernelVersion', 'kubeletVersion', 'osImage']),
            },
          },
          'status',
        ),
      ],
    },
    spec: { podCIDR: `10.244.${i & 255}.0/24`, podCIDRs: [`10.244.${i & 255}.0/24`], providerID: `gce://bench/${zone}/${name}` },
    status: {
      capacity: { cpu: '8', 'ephemeral-storage': '101430960Ki', 'hugepages-2Mi': '0', memory: '32863636Ki', pods: '110' },
      allocatable: { cpu: '7910m', 'ephemeral-storage': '93478772582', 'hugepages-2Mi': '0', memory: '29611412Ki', pods: '110' },
      conditions,
      addresses: [
        { type: 'InternalIP', address: ip },
        { type: 'Hostname', address: name },
      ],
      daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
      nodeInfo: {
        machineID: `${i.toString(16).padStart(32, '0')}`,
        systemUUID: uid(2, i),
        bootID: uid(3, i),
        kernelVersion: '6.1.0-27-cloud-amd64',
        osImage: 'Debian GNU/Linux 12 (bookworm)',
        containerRuntimeVersion: 'containerd://1.7.22',
        kubeletVersion: 'v1.31.2',
        kubeProxyVersion: 'v1.31.2',
        operatingSystem: 'linux',
        architecture: 'amd64',
      },
      images: [
        ['registry.k8s.io/kube-proxy@sha256:' + 'a'.repeat(64), 'registry.k8s.io/kube-proxy:v1.31.2', 30_000_000],
        ['docker.io/l2sm/l2sm-switch@sha256:' + 'b'.repeat(64), 'docker.io/l2sm/l2sm-switch:2.7', 120_000_000],
        ['ghcr.io/lpm/lpm@sha256:' + 'c'.repeat(64), 'ghcr.io/lpm/lpm:0.1.0', 60_000_000],
        ['registry.k8s.io/pause@sha256:' + 'd'.repeat(64), 'registry.k8s.io/pause:3.10', 320_000],
      ].map(([digest, tag, size]) => ({ names: [digest, tag], sizeBytes: size })),
    },
  };
}

/** A Pod object as kube-scheduler sends it: the scenario driver's, with managedFields like the fixtures. */
export function benchPodObject(info: PodInfo): Record<string, unknown> {
  const created = '2026-11-22T10:00:00Z';
  return podObject(info, {
    schedulerName: 'lpm-scheduler',
    uid: info.uid ?? '',
    resourceVersion: '48213',
    createdAt: new Date(created),
    metadata: {
      generateName: `${info.name.replace(/-\d+$/, '')}-`,
      managedFields: [managedField('kube-controller-manager', created, { 'f:metadata': { 'f:labels': fieldsV1(Object.keys(info.labels)) } })],
    },
  });
}

/** Builds the cluster: nodes, background pods, the test pods and their peers. */
export function buildCluster(spec: ClusterSpec): Cluster {
  const rand = prng(spec.seed ?? 1);
  const pick = (n: number) => Math.floor(rand() * n);
  const nodeNames = Array.from({ length: spec.nodes }, (_, i) => nodeName(i));
  const pods: PodInfo[] = [];

  // Background: apps of 10 replicas spread over the nodes; every 5th app sits on an L2S-M
  // network of its own, every 20th declares another app as its peer (the reverse direction
  // peer resolution must check for every pod scheduled).
  const total = spec.nodes * spec.podsPerNode;
  for (let i = 0; i < total; i++) {
    const app = Math.floor(i / 10);
    const namespace = `team-${app % 50}`;
    const annotations: Record<string, string> = {};
    if (app % 5 === 0) annotations['l2sm/networks'] = `app-${app}-net`;
    if (app % 20 === 1) annotations['lpm.l2sm.io/peers'] = `app=app-${app + 1}`;
    pods.push({
      namespace,
      name: `app-${app}-${i % 10}`,
      uid: uid(4, i),
      labels: { app: `app-${app}`, 'pod-template-hash': 'abc123' },
      annotations,
      nodeName: nodeNames[pick(spec.nodes)]!,
      phase: 'Running',
    });
  }

  // The pods under test: half of their peers share an L2S-M network with them, half are chosen
  // by a label selector; they run on random nodes. Each has a max-rtt limit so /filter has work.
  const testPods: TestPod[] = [];
  for (const k of spec.peerCounts) {
    const annotations: Record<string, string> = {};
    if (k > 0) {
      annotations['l2sm/networks'] = `bench-net-${k}`;
      annotations['lpm.l2sm.io/peers'] = `app=bench-peer-${k}`;
      annotations['lpm.l2sm.io/max-rtt'] = '5ms';
    }
    for (let j = 0; j < k; j++) {
      const viaNetwork = j % 2 === 0;
      pods.push({
        namespace: 'bench',
        name: `peer-${k}-${j}`,
        uid: uid(5, k * 1000 + j),
        labels: { app: viaNetwork ? `bench-net-member-${k}` : `bench-peer-${k}` },
        annotations: viaNetwork ? { 'l2sm/networks': `bench-net-${k}` } : {},
        nodeName: nodeNames[pick(spec.nodes)]!,
        phase: 'Running',
      });
    }
    const info: PodInfo = {
      namespace: 'bench',
      name: `web-${k}-0`,
      uid: uid(6, k),
      labels: { app: `web-${k}` },
      annotations,
      phase: 'Pending',
    };
    testPods.push({ peers: k, info, object: benchPodObject(info) });
  }
  return { spec, nodeNames, pods, testPods, now: 1_790_000_000 };
}

/**
 * The link matrix an agent mesh would produce: every node measures its 10 ring neighbours and
 * every node that hosts a test pod's peer (what scoring looks up), RTT and bandwidth. About 5 %
 * of the values are stale (older than the default max ages) and the rest fresh at `now`; RTT is
 * 0.1-2 ms on nine links in ten and 2-20 ms on the rest.
 */
export function buildMatrix(cluster: Cluster, now: number): LinkMatrix {
  const rand = prng((cluster.spec.seed ?? 1) + 7);
  const m = new LinkMatrix(now);
  const peerNodes = new Set<string>();
  for (const p of cluster.pods) if (p.namespace === 'bench' && p.nodeName) peerNodes.add(p.nodeName);
  const hot = [...peerNodes];
  const n = cluster.nodeNames.length;
  const put = (a: string, b: string) => {
    if (a === b) return;
    const age = rand() < 0.05 ? 4000 : rand() * 20;
    // most links are fast (same site), one in ten crosses a slow hop: max-rtt 5ms filters some nodes
    const rtt = rand() < 0.9 ? 0.0001 + rand() * 0.0019 : 0.002 + rand() * 0.018;
    m.set(a, b, 'rtt_seconds', { value: rtt, timestamp: now - age });
    m.set(a, b, 'bandwidth_bytes_per_second', { value: 5e6 + rand() * 1.2e8, timestamp: now - age });
  };
  for (let i = 0; i < n; i++) {
    const a = cluster.nodeNames[i]!;
    for (let d = 1; d <= Math.min(10, n - 1); d++) put(a, cluster.nodeNames[(i + d) % n]!);
    for (const b of hot) put(a, b);
  }
  return m;
}

/** Request bodies: the NodeList of all nodes once as JSON, then one body per test pod and mode. */
export interface ClusterBodies {
  nodeNames: string;
  nodeList: string;
  /** Bytes of the NodeList JSON per node (the "~4 KB"). */
  bytesPerNode: number;
}

export function clusterBodies(cluster: Cluster): ClusterBodies {
  const items = cluster.nodeNames.map((_, i) => nodeObject(i));
  const nodeList = JSON.stringify({ metadata: {}, items });
  return {
    nodeNames: JSON.stringify(cluster.nodeNames),
    nodeList,
    bytesPerNode: Math.round(nodeList.length / cluster.nodeNames.length),
  };
}

/** ExtenderArgs as kube-scheduler encodes it (Go writes unset pointers as null). */
export function requestBody(pod: TestPod, bodies: ClusterBodies, mode: 'nodeNames' | 'nodeList'): string {
  const podJson = JSON.stringify(pod.object);
  return mode === 'nodeNames'
    ? `{"Pod":${podJson},"Nodes":null,"NodeNames":${bodies.nodeNames}}`
    : `{"Pod":${podJson},"Nodes":${bodies.nodeList},"NodeNames":null}`;
}
