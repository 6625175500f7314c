// Validates built-in Kubernetes objects two ways:
// 1. kubernetes-models' JSON-schema validators (types, required fields, formats), and
// 2. a walk over @kubernetes/client-node's model attribute maps that reports fields the API does
//    not know: the API server rejects them under kubectl's default strict field validation, and
//    the JSON schemas alone let a misspelt field (e.g. `readinesProbe`) through silently.
import * as k8s from '@kubernetes/client-node';
import type { K8sObject } from './kustomize.js';

type AttributeType = { name: string; baseName: string; type: string };
type ModelClass = { getAttributeTypeMap(): AttributeType[] };

const models = k8s as unknown as Record<string, unknown>;

/** Errors for one built-in object (empty = valid). Throws for kinds it does not know. */
export async function validateBuiltinObject(obj: K8sObject): Promise<string[]> {
  const where = `${obj.kind}/${obj.metadata.name}`;
  const errors: string[] = [];

  const modulePath = `kubernetes-models/${obj.apiVersion}`;
  let mod: Record<string, unknown>;
  try {
    mod = (await import(modulePath)) as Record<string, unknown>;
  } catch {
    throw new Error(`${where}: no kubernetes-models module for apiVersion ${obj.apiVersion}`);
  }
  const Model = mod[obj.kind] as (new (data: unknown) => { validate(): void }) | undefined;
  if (!Model) throw new Error(`${where}: kubernetes-models has no ${obj.apiVersion} ${obj.kind}`);
  try {
    new Model(structuredClone(obj)).validate();
  } catch (err) {
    const list = (err as { errors?: { instancePath: string; message?: string }[] }).errors;
    if (list) for (const e of list) errors.push(`${where}: ${e.instancePath || '/'} ${e.message ?? 'invalid'}`);
    else errors.push(`${where}: ${(err as Error).message}`);
  }

  const className = clientNodeClassName(obj.apiVersion, obj.kind);
  if (!isModel(models[className])) throw new Error(`${where}: @kubernetes/client-node has no ${className}`);
  for (const path of unknownFields(obj, className)) errors.push(`${where}: unknown field ${path}`);
  return errors;
}

/** apps/v1 + DaemonSet -> V1DaemonSet; policy/v1 + PodDisruptionBudget -> V1PodDisruptionBudget. */
function clientNodeClassName(apiVersion: string, kind: string): string {
  const version = apiVersion.split('/').pop()!;
  return `${version[0]!.toUpperCase()}${version.slice(1)}${kind}`;
}

function isModel(v: unknown): v is ModelClass {
  return typeof v === 'function' && typeof (v as Partial<ModelClass>).getAttributeTypeMap === 'function';
}

/** JSON paths of fields in `value` that the model `type` does not declare. */
export function unknownFields(value: unknown, type: string, path = ''): string[] {
  const array = /^Array<(.+)>$/.exec(type);
  if (array) {
    if (!Array.isArray(value)) return [];
    return value.flatMap((v, i) => unknownFields(v, array[1]!, `${path}[${i}]`));
  }
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) {
    if (typeof value !== 'object' || value === null) return [];
    return Object.entries(value).flatMap(([k, v]) => unknownFields(v, map[1]!, `${path}.${k}`));
  }
  const model = models[type];
  if (!isModel(model) || typeof value !== 'object' || value === null || Array.isArray(value)) return [];
  const attrs = new Map(model.getAttributeTypeMap().map((a) => [a.baseName, a.type]));
  const out: string[] = [];
  for (const [k, v] of Object.entries(value)) {
    const t = attrs.get(k);
    if (t === undefined) out.push(`${path}.${k}`);
    else out.push(...unknownFields(v, t, `${path}.${k}`));
  }
  return out;
}
