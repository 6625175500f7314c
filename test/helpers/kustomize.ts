// Kustomizations rendered by the shipped kubectl (`kubectl kustomize DIR`: kustomize v4.5.7 in
// kubectl v1.26.1), run by its full path from the Kubernetes binaries folder ($LPM_KUBE_BIN, else
// ../shared/k8s/bin): never the kubectl on PATH, which may be another program. What kubectl does
// (resources, namespace, images, generators, patches) is not reimplemented here; this file only
// finds kubectl, parses what it prints, and offers accessors the manifest tests share.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { parseAllDocuments } from 'yaml';
import { kubeBinDir, type Check } from './capability.js';

export type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [k: string]: unknown };
  [k: string]: unknown;
};

/** Full path of the shipped kubectl ($LPM_KUBE_BIN/kubectl, else ../shared/k8s/bin/kubectl), or undefined. */
export function kubectlPath(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const dir = kubeBinDir(env);
  const file = dir ? join(dir, 'kubectl') : undefined;
  return file && existsSync(file) ? file : undefined;
}

/** Capability check (capability.ts): the shipped kubectl runs. */
export const kubectlBinary = (): Check => async () => {
  const kubectl = kubectlPath();
  if (!kubectl) return 'kubectl in $LPM_KUBE_BIN or ../shared/k8s/bin (the shipped v1.26.1 binaries)';
  const r = await execa(kubectl, ['version', '--client', '--output=json'], { reject: false, timeout: 30_000 });
  return r.exitCode === 0 ? undefined : `${kubectl} (version --client failed: ${String(r.stderr).trim().split('\n')[0]})`;
};

/** Objects of a multi-document YAML text (empty documents skipped); `where` names it in errors. */
export function parseYamlObjects(text: string, where: string): K8sObject[] {
  const out: K8sObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`${where}: ${doc.errors[0]!.message}`);
    const value = doc.toJS() as unknown;
    if (value == null) continue;
    if (!isObject(value) || typeof value.kind !== 'string' || !isObject(value.metadata))
      throw new Error(`${where}: a document is not a Kubernetes object (kind/metadata missing)`);
    out.push(value as K8sObject);
  }
  return out;
}

/** Multi-document YAML file -> objects (empty documents skipped). */
export function readYamlObjects(file: string): K8sObject[] {
  return parseYamlObjects(readFileSync(file, 'utf8'), file);
}

/** `kubectl kustomize DIR` as text. */
export async function kustomizeText(dir: string, kubectl = kubectlPath()): Promise<string> {
  if (!kubectl) throw new Error('kubectl kustomize: no kubectl in $LPM_KUBE_BIN or ../shared/k8s/bin');
  const r = await execa(kubectl, ['kustomize', resolve(dir)], { reject: false, timeout: 120_000 });
  if (r.exitCode !== 0) throw new Error(`kubectl kustomize ${dir} failed (exit ${r.exitCode}): ${String(r.stderr).trim()}`);
  return String(r.stdout);
}

/** The objects `kubectl kustomize DIR` renders. */
export async function renderKustomization(dir: string, kubectl = kubectlPath()): Promise<K8sObject[]> {
  return parseYamlObjects(await kustomizeText(dir, kubectl), `kubectl kustomize ${dir}`);
}

/** Stable identity of an object: kind/namespace/name. */
export function objectKey(o: K8sObject): string {
  return `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
}

/** Pod templates (Deployment, DaemonSet, ...) and bare Pods, each with its owner. */
export function podSpecsOf(o: K8sObject): { owner: K8sObject; labels: Record<string, string>; spec: PodSpecLike }[] {
  if (o.kind === 'Pod') {
    return [{ owner: o, labels: (o.metadata.labels as Record<string, string>) ?? {}, spec: o.spec as PodSpecLike }];
  }
  const template = (o.spec as { template?: { metadata?: { labels?: Record<string, string> }; spec?: PodSpecLike } })
    ?.template;
  if (!template?.spec) return [];
  return [{ owner: o, labels: template.metadata?.labels ?? {}, spec: template.spec }];
}

export interface ContainerLike {
  name: string;
  image?: string;
  args?: string[];
  command?: string[];
  ports?: { name?: string; containerPort: number; protocol?: string }[];
  volumeMounts?: { name: string; mountPath: string; subPath?: string }[];
  [k: string]: unknown;
}
export interface PodSpecLike {
  containers: ContainerLike[];
  volumes?: { name: string; configMap?: { name: string }; [k: string]: unknown }[];
  [k: string]: unknown;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
