// A small kustomize renderer for the features lpm's kustomizations use: resources (files and
// directories), namespace, images, configMapGenerator (create/replace/merge, files, literals,
// without name hash) and strategic-merge patches. Anything else is rejected with an error, so a
// kustomization that grows past it fails the test instead of rendering wrongly. When kubectl is
// installed, test/unit/manifests.test.ts checks this renderer against `kubectl kustomize`.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';

export type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [k: string]: unknown };
  [k: string]: unknown;
};

const KUSTOMIZATION_FILES = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'];
const SUPPORTED_FIELDS = new Set([
  'apiVersion',
  'kind',
  'resources',
  'namespace',
  'images',
  'generatorOptions',
  'configMapGenerator',
  'patches',
]);

/** Kinds that are not namespaced (the namespace transformer leaves them alone). */
const CLUSTER_SCOPED = new Set([
  'Namespace',
  'ClusterRole',
  'ClusterRoleBinding',
  'CustomResourceDefinition',
  'PriorityClass',
  'StorageClass',
  'PersistentVolume',
  'Node',
  'MutatingWebhookConfiguration',
  'ValidatingWebhookConfiguration',
  'APIService',
  'IngressClass',
  'RuntimeClass',
]);

/** Strategic-merge keys of the lists our patches may touch (from the Kubernetes API types). */
const MERGE_KEYS: Record<string, string> = {
  containers: 'name',
  initContainers: 'name',
  ephemeralContainers: 'name',
  volumes: 'name',
  env: 'name',
  volumeMounts: 'mountPath',
  ports: 'containerPort',
  imagePullSecrets: 'name',
};

interface ConfigMapGenerator {
  name: string;
  namespace?: string;
  behavior?: 'create' | 'replace' | 'merge';
  files?: string[];
  literals?: string[];
  options?: { disableNameSuffixHash?: boolean };
}

export class KustomizeError extends Error {
  override name = 'KustomizeError';
}

/** Multi-document YAML file -> objects (empty documents skipped). */
export function readYamlObjects(file: string): K8sObject[] {
  const docs = parseAllDocuments(readFileSync(file, 'utf8'));
  const out: K8sObject[] = [];
  for (const doc of docs) {
    if (doc.errors.length > 0) throw new KustomizeError(`${file}: ${doc.errors[0]!.message}`);
    const value = doc.toJS() as unknown;
    if (value == null) continue;
    if (!isObject(value) || typeof value.kind !== 'string' || !isObject(value.metadata))
      throw new KustomizeError(`${file}: a document is not a Kubernetes object (kind/metadata missing)`);
    out.push(value as K8sObject);
  }
  return out;
}

/** Renders the kustomization in `dir` (like `kubectl kustomize DIR`). */
export function renderKustomization(dir: string): K8sObject[] {
  const root = resolve(dir);
  const file = KUSTOMIZATION_FILES.map((f) => join(root, f)).find((f) => existsSync(f));
  if (!file) throw new KustomizeError(`${root}: no kustomization.yaml`);
  const docs = readYamlObjectsLoose(file);
  const k = docs[0] ?? {};
  for (const key of Object.keys(k))
    if (!SUPPORTED_FIELDS.has(key)) throw new KustomizeError(`${file}: field "${key}" is not supported by this renderer`);

  let objects: K8sObject[] = [];
  for (const entry of asArray<string>(k.resources, `${file}: resources`)) {
    const path = resolve(root, entry);
    if (!existsSync(path)) throw new KustomizeError(`${file}: resource ${entry} does not exist`);
    const more = statSync(path).isDirectory() ? renderKustomization(path) : readYamlObjects(path);
    for (const obj of more) addUnique(objects, obj, file);
  }

  const hashOff = isObject(k.generatorOptions) && k.generatorOptions.disableNameSuffixHash === true;
  for (const gen of asArray<ConfigMapGenerator>(k.configMapGenerator, `${file}: configMapGenerator`)) {
    if (!(hashOff || gen.options?.disableNameSuffixHash))
      throw new KustomizeError(`${file}: configMapGenerator ${gen.name}: name hash suffixes are not supported here`);
    const data = generatorData(root, gen, file);
    const behavior = gen.behavior ?? 'create';
    const namespace = gen.namespace ?? (typeof k.namespace === 'string' ? k.namespace : undefined);
    const existing = objects.find(
      (o) => o.kind === 'ConfigMap' && o.metadata.name === gen.name && (namespace === undefined || o.metadata.namespace === namespace),
    );
    if (behavior === 'create') {
      if (existing) throw new KustomizeError(`${file}: ConfigMap ${gen.name} already exists (use behavior: replace/merge)`);
      objects.push({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: gen.name, ...(namespace ? { namespace } : {}) },
        data,
      });
    } else {
      if (!existing) throw new KustomizeError(`${file}: ConfigMap ${gen.name} to ${behavior} does not exist`);
      existing.data = behavior === 'replace' ? data : { ...(existing.data as Record<string, string>), ...data };
    }
  }

  for (const p of asArray<{ path?: string; patch?: string; target?: unknown }>(k.patches, `${file}: patches`)) {
    if (p.target !== undefined) throw new KustomizeError(`${file}: patches with target are not supported here`);
    const patches = p.path ? readYamlObjects(resolve(root, p.path)) : p.patch ? parseInlinePatch(p.patch, file) : [];
    for (const patch of patches) {
      const targetObj = objects.find(
        (o) =>
          o.kind === patch.kind &&
          o.metadata.name === patch.metadata.name &&
          (patch.metadata.namespace === undefined || o.metadata.namespace === patch.metadata.namespace),
      );
      if (!targetObj) throw new KustomizeError(`${file}: patch target ${patch.kind}/${patch.metadata.name} not found`);
      const merged = strategicMerge(targetObj, patch) as K8sObject;
      objects = objects.map((o) => (o === targetObj ? merged : o));
    }
  }

  if (typeof k.namespace === 'string') {
    const ns = k.namespace;
    objects = objects.map((o) =>
      CLUSTER_SCOPED.has(o.kind) ? o : { ...o, metadata: { ...o.metadata, namespace: ns } },
    );
  }

  for (const img of asArray<{ name: string; newName?: string; newTag?: string; digest?: string }>(k.images, `${file}: images`))
    objects = objects.map((o) => setImage(o, img));

  return objects;
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

// --- internals ---

function readYamlObjectsLoose(file: string): Record<string, unknown>[] {
  return parseAllDocuments(readFileSync(file, 'utf8'))
    .map((d) => d.toJS() as unknown)
    .filter(isObject);
}

function parseInlinePatch(text: string, file: string): K8sObject[] {
  const docs = parseAllDocuments(text).map((d) => d.toJS() as unknown);
  if (!docs.every((d) => isObject(d) && typeof d.kind === 'string' && isObject(d.metadata)))
    throw new KustomizeError(`${file}: inline patch is not a strategic-merge patch`);
  return docs as K8sObject[];
}

function generatorData(root: string, gen: ConfigMapGenerator, file: string): Record<string, string> {
  const data: Record<string, string> = {};
  for (const f of gen.files ?? []) {
    const [key, path] = f.includes('=') ? (f.split('=', 2) as [string, string]) : [basename(f), f];
    const full = resolve(root, path);
    if (!full.startsWith(root + '/') && dirname(full) !== root)
      throw new KustomizeError(`${file}: ${f} is outside the kustomization directory (kustomize refuses it)`);
    data[key] = readFileSync(full, 'utf8');
  }
  for (const lit of gen.literals ?? []) {
    const i = lit.indexOf('=');
    if (i <= 0) throw new KustomizeError(`${file}: literal "${lit}" is not KEY=VALUE`);
    data[lit.slice(0, i)] = lit.slice(i + 1);
  }
  return data;
}

function addUnique(list: K8sObject[], obj: K8sObject, file: string): void {
  if (list.some((o) => objectKey(o) === objectKey(obj)))
    throw new KustomizeError(`${file}: ${objectKey(obj)} is defined twice`);
  list.push(obj);
}

/** Strategic merge patch for maps and the keyed lists in MERGE_KEYS; other lists are replaced. */
export function strategicMerge(base: unknown, patch: unknown, field?: string): unknown {
  if (Array.isArray(patch)) {
    const key = field ? MERGE_KEYS[field] : undefined;
    if (!key || !Array.isArray(base)) return patch.filter((p) => !(isObject(p) && p.$patch === 'delete'));
    const out = [...(base as unknown[])];
    for (const item of patch) {
      if (!isObject(item)) return patch;
      const idx = out.findIndex((b) => isObject(b) && b[key] === item[key]);
      if (item.$patch === 'delete') {
        if (idx >= 0) out.splice(idx, 1);
      } else if (idx >= 0) {
        out[idx] = strategicMerge(out[idx], item);
      } else {
        out.push(item);
      }
    }
    return out;
  }
  if (isObject(patch) && isObject(base)) {
    const out: Record<string, unknown> = { ...base };
    for (const [k, v] of Object.entries(patch)) {
      if (v === null) delete out[k];
      else out[k] = k in base ? strategicMerge(base[k], v, k) : v;
    }
    return out;
  }
  return patch;
}

function setImage(o: K8sObject, img: { name: string; newName?: string; newTag?: string; digest?: string }): K8sObject {
  const copy = structuredClone(o);
  for (const { spec } of podSpecsOf(copy)) {
    for (const c of [...spec.containers, ...((spec.initContainers as ContainerLike[] | undefined) ?? [])]) {
      if (!c.image) continue;
      const { name, tag } = splitImage(c.image);
      if (name !== img.name) continue;
      const suffix = img.digest ? `@${img.digest}` : img.newTag ? `:${img.newTag}` : tag ? `:${tag}` : '';
      c.image = `${img.newName ?? name}${suffix}`;
    }
  }
  return copy;
}

function splitImage(image: string): { name: string; tag?: string } {
  const at = image.indexOf('@');
  if (at >= 0) return { name: image.slice(0, at) };
  const colon = image.lastIndexOf(':');
  if (colon > image.lastIndexOf('/')) return { name: image.slice(0, colon), tag: image.slice(colon + 1) };
  return { name: image };
}

function asArray<T>(v: unknown, what: string): T[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new KustomizeError(`${what} must be a list`);
  return v as T[];
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
