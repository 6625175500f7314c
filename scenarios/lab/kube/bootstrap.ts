// What a cluster with lpm installed has, put into the fresh lab API before anything runs: the
// shipped manifests' namespace and RBAC (manifests/base: lpm-system, the lpm-extender and
// lpm-scheduler ServiceAccounts and their roles, applied as they are), the hollow kubelet's role,
// and service-account tokens for the extender and lpm-scheduler from the TokenRequest API, so
// both run under exactly the permissions the manifests give them on a cluster.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CoreV1Api, KubernetesObjectApi, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { describeKubeError } from '../../../src/kube/podWatch.js';
import { packageRoot } from '../paths.js';
import { KUBELET_USER } from './controlPlane.js';

/** The namespace every shipped component lives in (kustomization.yaml's `namespace`). */
export const LPM_NAMESPACE = 'lpm-system';
/** manifests/base files applied to the lab API, in this order. */
export const SHIPPED_RBAC_FILES = ['namespace.yaml', 'extender-rbac.yaml', 'scheduler-rbac.yaml'];
const CLUSTER_SCOPED = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'Node']);

/** Objects of multi-document YAML texts, namespaced ones put in lpm-system when they name none (as kustomize does). */
export function manifestObjects(texts: string[], namespace = LPM_NAMESPACE): KubernetesObject[] {
  const out: KubernetesObject[] = [];
  for (const text of texts)
    for (const doc of parseAllDocuments(text)) {
      if (doc.errors.length) throw new Error(`manifest: ${doc.errors[0]!.message}`);
      const obj = doc.toJS() as KubernetesObject | null;
      if (!obj) continue;
      if (!obj.kind || !obj.apiVersion || !obj.metadata?.name) throw new Error('manifest: an object without kind, apiVersion or metadata.name');
      if (!CLUSTER_SCOPED.has(obj.kind) && !obj.metadata.namespace) obj.metadata.namespace = namespace;
      out.push(obj);
    }
  return out;
}

export async function shippedRbac(): Promise<KubernetesObject[]> {
  const dir = join(packageRoot(), 'manifests', 'base');
  return manifestObjects(await Promise.all(SHIPPED_RBAC_FILES.map((f) => readFile(join(dir, f), 'utf8'))));
}

/** The hollow kubelet's permissions: follow pods, write their status, delete them when terminated, post events. */
export function kubeletRbac(): KubernetesObject[] {
  const name = KUBELET_USER;
  return [
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name, labels: { 'app.kubernetes.io/part-of': 'lpm-lab' } },
      rules: [
        { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch', 'delete'] },
        { apiGroups: [''], resources: ['pods/status'], verbs: ['get', 'update', 'patch'] },
        { apiGroups: [''], resources: ['nodes', 'nodes/status'], verbs: ['get', 'list', 'watch', 'update', 'patch'] },
        { apiGroups: ['', 'events.k8s.io'], resources: ['events'], verbs: ['create', 'patch', 'update'] },
      ],
    } as KubernetesObject,
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name, labels: { 'app.kubernetes.io/part-of': 'lpm-lab' } },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name }],
    } as KubernetesObject,
  ];
}

/** Creates the objects; one that exists already is left as it is. */
export async function createObjects(kc: KubeConfig, objects: KubernetesObject[]): Promise<void> {
  const api = KubernetesObjectApi.makeApiClient(kc);
  for (const obj of objects) {
    try {
      await api.create(obj);
    } catch (err) {
      if ((err as { code?: number }).code === 409) continue;
      throw new Error(`creating ${obj.kind} ${obj.metadata?.namespace ? `${obj.metadata.namespace}/` : ''}${obj.metadata?.name}: ${describeKubeError(err)}`);
    }
  }
}

/** A token for a ServiceAccount from the TokenRequest API (what a projected token volume holds). */
export async function serviceAccountToken(kc: KubeConfig, namespace: string, name: string, seconds = 30 * 24 * 3600): Promise<string> {
  const api = kc.makeApiClient(CoreV1Api);
  try {
    const tr = await api.createNamespacedServiceAccountToken({
      name,
      namespace,
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { audiences: [], expirationSeconds: seconds } },
    });
    if (!tr.status?.token) throw new Error('the answer holds no token');
    return tr.status.token;
  } catch (err) {
    throw new Error(`TokenRequest for ServiceAccount ${namespace}/${name}: ${describeKubeError(err)}`);
  }
}
