// Every lab node as a Kubernetes Node: name, labels and capacity from the topology file (with
// defaults), addresses (InternalIP = the node's underlay address; its overlay address in an
// annotation), and a Ready status given at creation, which the API keeps: nothing heartbeats in
// the lab and nothing needs to (no controller-manager marks nodes unknown).
import { CoreV1Api, type KubeConfig, type V1Node } from '@kubernetes/client-node';
import { describeKubeError } from '../../../src/kube/podWatch.js';
import { VERSION } from '../../../src/version.js';
import type { LabPlan, PlannedNode } from '../plan.js';

export const DEFAULT_NODE_CAPACITY: Readonly<Record<string, string>> = { cpu: '4', memory: '8Gi', pods: '110' };
/** Which lab a Node belongs to. */
export const LAB_LABEL = 'lpm.l2sm.io/lab';
/** The node's overlay address (what the hollow kubelet gives its pods as pod IP). */
export const OVERLAY_ADDRESS_ANNOTATION = 'lpm.l2sm.io/overlay-address';

export function nodeObject(plan: LabPlan, node: PlannedNode, kubeVersion: string, now = new Date()): V1Node {
  const capacity = { ...DEFAULT_NODE_CAPACITY, ...(node.capacity ?? {}) };
  const time = now;
  const condition = (type: string, status: string, reason: string, message: string) => ({
    type,
    status,
    reason,
    message,
    lastHeartbeatTime: time,
    lastTransitionTime: time,
  });
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: node.name,
      labels: {
        'kubernetes.io/hostname': node.name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        [LAB_LABEL]: plan.name,
        ...(node.labels ?? {}),
      },
      annotations: { [OVERLAY_ADDRESS_ANNOTATION]: node.overlayAddress, 'lpm.l2sm.io/netns': node.netns },
    },
    spec: {},
    status: {
      capacity,
      allocatable: { ...capacity },
      conditions: [
        condition('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'lpm lab hollow node'),
        condition('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'lpm lab hollow node'),
        condition('PIDPressure', 'False', 'KubeletHasSufficientPID', 'lpm lab hollow node'),
        condition('Ready', 'True', 'KubeletReady', `lpm lab hollow node (namespace ${node.netns})`),
      ],
      addresses: [
        { type: 'InternalIP', address: node.underlayAddress },
        { type: 'Hostname', address: node.name },
      ],
      daemonEndpoints: { kubeletEndpoint: { Port: 0 } },
      nodeInfo: {
        machineID: '',
        systemUUID: '',
        bootID: '',
        kernelVersion: '',
        osImage: 'lpm lab',
        containerRuntimeVersion: `lpm-lab://${VERSION}`,
        kubeletVersion: kubeVersion,
        kubeProxyVersion: kubeVersion,
        operatingSystem: 'linux',
        architecture: 'amd64',
      },
    },
  };
}

/** Creates a Node per lab node (with its status). */
export async function registerNodes(kc: KubeConfig, plan: LabPlan, kubeVersion: string, registered: (name: string) => Promise<void>): Promise<void> {
  const api = kc.makeApiClient(CoreV1Api);
  for (const node of plan.nodes) {
    try {
      await api.createNode({ body: nodeObject(plan, node, kubeVersion) });
    } catch (err) {
      throw new Error(`registering node ${node.name}: ${describeKubeError(err)}`);
    }
    await registered(node.name);
  }
}
