// kube-scheduler's extender wire format (k8s.io/kube-scheduler/extender/v1). The Go types carry
// no JSON tags, so the keys are the Go field names; Go's decoder matches them case-insensitively
// (old schedulers sent `pod`, `nodenames`), so we read them the same way and answer with the Go
// names. Unset pointers arrive as `null`.
//
// We validate only what we read. In NodeList mode each Node object is kept untouched (we only
// read metadata.name) so the filter answer can echo it back as kube-scheduler expects; Node
// objects are not run through zod, as a 5000-node request is ~20 MB of them.
import { z } from 'zod';
import type { ParseResult } from '../src/l2sm.js';

/** Largest score an extender may return (extenderv1.MaxExtenderPriority). */
export const MAX_EXTENDER_PRIORITY = 10;

/** Reads `key` from an object the way Go's encoding/json does: exact match first, then case-insensitive. */
export function getKey(obj: Record<string, unknown>, key: string): unknown {
  if (Object.prototype.hasOwnProperty.call(obj, key)) return obj[key];
  const lower = key.toLowerCase();
  for (const k of Object.keys(obj)) if (k.toLowerCase() === lower) return obj[k];
  return undefined;
}

/** Rewrites an object's keys to the given canonical spellings (case-insensitively); other keys are kept. */
function canonicalKeys(keys: readonly string[]) {
  return (v: unknown): unknown => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    const src = v as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const k of keys) {
      const val = getKey(src, k);
      if (val !== undefined) out[k] = val;
    }
    return out;
  };
}

const stringMap = z
  .record(z.string(), z.string())
  .nullish()
  .transform((m) => m ?? {});

// Kubernetes' name rules (k8s.io/apimachinery/pkg/util/validation). Names reach the decision log,
// the pod store and explanations: a name that no API server accepts is a malformed request.
const DNS_LABEL = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const DNS_SUBDOMAIN_RE = new RegExp(`^${DNS_LABEL}(\\.${DNS_LABEL})*$`);
const DNS_LABEL_RE = new RegExp(`^${DNS_LABEL}$`);
const QUALIFIED_NAME_RE = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;

/** A DNS-1123 subdomain (pod and node names): lowercase a-z, 0-9, "-", ".", at most 253 characters. */
export const isDnsSubdomain = (s: string): boolean => s.length > 0 && s.length <= 253 && DNS_SUBDOMAIN_RE.test(s);
/** A DNS-1123 label (namespaces): lowercase a-z, 0-9, "-", at most 63 characters. */
export const isDnsLabel = (s: string): boolean => s.length > 0 && s.length <= 63 && DNS_LABEL_RE.test(s);

const quote = (s: string) => JSON.stringify(s.length > 60 ? `${s.slice(0, 60)}...` : s);
const SUBDOMAIN_RULE = 'a Kubernetes name: DNS-1123 subdomain, lowercase a-z, 0-9, "-" and ".", at most 253 characters';

/** A label key (optional DNS prefix and "/", then a name of at most 63) and value (empty, or a name of at most 63). */
function labelProblem(key: string, value: string): string | undefined {
  const at = key.lastIndexOf('/');
  const prefix = at >= 0 ? key.slice(0, at) : undefined;
  const name = at >= 0 ? key.slice(at + 1) : key;
  if ((prefix !== undefined && !isDnsSubdomain(prefix)) || name.length > 63 || !QUALIFIED_NAME_RE.test(name))
    return `${quote(key)} is not a label key (an optional DNS prefix and "/", then up to 63 of A-Z, a-z, 0-9, "-", "_", ".")`;
  if (value !== '' && (value.length > 63 || !QUALIFIED_NAME_RE.test(value)))
    return `${quote(value)} is not a label value (up to 63 of A-Z, a-z, 0-9, "-", "_", ".")`;
  return undefined;
}

const labelMap = stringMap.superRefine((m, ctx) => {
  for (const [k, v] of Object.entries(m)) {
    const problem = labelProblem(k, v);
    if (problem) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: [k], message: problem });
      return;
    }
  }
});

/** Kubernetes' limit on a pod's annotations, keys and values together (TotalAnnotationSizeLimitB). */
export const MAX_ANNOTATIONS_BYTES = 256 * 1024;

const annotationMap = stringMap.superRefine((m, ctx) => {
  let bytes = 0;
  for (const [k, v] of Object.entries(m)) bytes += Buffer.byteLength(k) + Buffer.byteLength(v);
  if (bytes > MAX_ANNOTATIONS_BYTES)
    ctx.addIssue({
      code: z.ZodIssueCode.custom,
      message: `${bytes} bytes, over Kubernetes' limit of ${MAX_ANNOTATIONS_BYTES} (no API server sends this)`,
    });
});

/** The parts of a Pod we read: identity, labels, annotations, where it runs. */
export const podSchema = z.preprocess(
  canonicalKeys(['metadata', 'spec', 'status']),
  z.object({
    metadata: z.preprocess(
      canonicalKeys(['name', 'namespace', 'uid', 'labels', 'annotations']),
      z.object({
        // Kubernetes names: at most 253 characters (a DNS subdomain), namespaces 63 (a DNS label)
        name: z
          .string()
          .min(1)
          .max(253)
          .refine((s) => s.length > 253 || isDnsSubdomain(s), (s) => ({ message: `${quote(s)} is not ${SUBDOMAIN_RULE}` })),
        // the API server always sets it; "default" is what kubectl would have used
        namespace: z
          .string()
          .max(63)
          .refine(
            (s) => s === '' || s.length > 63 || isDnsLabel(s),
            (s) => ({ message: `${quote(s)} is not a namespace name: DNS-1123 label, lowercase a-z, 0-9 and "-", at most 63 characters` }),
          )
          .nullish()
          .transform((s) => s || 'default'),
        uid: z.string().max(128).nullish(),
        labels: labelMap,
        annotations: annotationMap,
      }),
    ),
    spec: z
      .preprocess(
        canonicalKeys(['nodeName']),
        z.object({
          nodeName: z
            .string()
            .refine((s) => s === '' || isDnsSubdomain(s), (s) => ({ message: `${quote(s)} is not ${SUBDOMAIN_RULE}` }))
            .nullish(),
        }),
      )
      .nullish(),
    status: z.preprocess(canonicalKeys(['phase']), z.object({ phase: z.string().nullish() })).nullish(),
  }),
);
export type ExtenderPod = z.infer<typeof podSchema>;

/** A NodeList as received: the original object, its items untouched, and their names in order. */
export interface ReceivedNodeList {
  /** The NodeList object as sent (kind, apiVersion, metadata...), for echoing back. */
  list: Record<string, unknown>;
  items: unknown[];
  names: string[];
}

// Hand-written rather than zod: reads only items[i].metadata.name and never copies a Node.
function readNodeList(v: unknown, ctx: z.RefinementCtx): ReceivedNodeList | null {
  if (v === null || v === undefined) return null;
  if (typeof v !== 'object' || Array.isArray(v)) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'must be a NodeList object or null' });
    return z.NEVER;
  }
  const list = v as Record<string, unknown>;
  const items = getKey(list, 'items');
  if (items === null || items === undefined) return { list, items: [], names: [] };
  if (!Array.isArray(items)) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['items'], message: 'must be a list of Node objects' });
    return z.NEVER;
  }
  const names: string[] = new Array<string>(items.length);
  for (let i = 0; i < items.length; i++) {
    const item: unknown = items[i];
    const meta = item && typeof item === 'object' ? getKey(item as Record<string, unknown>, 'metadata') : undefined;
    const name = meta && typeof meta === 'object' ? getKey(meta as Record<string, unknown>, 'name') : undefined;
    if (typeof name !== 'string' || name === '') {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['items', i, 'metadata', 'name'],
        message: 'every Node needs a metadata.name',
      });
      return z.NEVER;
    }
    if (!isDnsSubdomain(name)) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['items', i, 'metadata', 'name'], message: `${quote(name)} is not ${SUBDOMAIN_RULE}` });
      return z.NEVER;
    }
    names[i] = name;
  }
  return { list, items, names };
}

const jsonType = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

// Hand-written rather than z.array(z.string()): 5000 names are checked in one loop without
// zod's per-element bookkeeping; the messages are zod's.
function readNodeNames(v: unknown, ctx: z.RefinementCtx): string[] | null | undefined {
  if (v === null || v === undefined) return v;
  if (!Array.isArray(v)) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: `Expected array, received ${jsonType(v)}` });
    return z.NEVER;
  }
  for (let i = 0; i < v.length; i++) {
    const name: unknown = v[i];
    if (typeof name !== 'string') {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: [i], message: `Expected string, received ${jsonType(name)}` });
      return z.NEVER;
    }
    if (name === '') {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: [i], message: 'String must contain at least 1 character(s)' });
      return z.NEVER;
    }
    if (!isDnsSubdomain(name)) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: [i], message: `${quote(name)} is not ${SUBDOMAIN_RULE}` });
      return z.NEVER;
    }
  }
  return v as string[];
}

/** ExtenderArgs: the body of both the filter and the prioritize call. */
export const extenderArgsSchema = z
  .preprocess(
    canonicalKeys(['Pod', 'Nodes', 'NodeNames']),
    z.object({
      Pod: podSchema,
      Nodes: z.unknown().transform(readNodeList),
      NodeNames: z.unknown().transform(readNodeNames),
    }),
  )
  .superRefine((args, ctx) => {
    if (args.Nodes === null && (args.NodeNames === null || args.NodeNames === undefined))
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['NodeNames'],
        message: 'one of NodeNames (nodeCacheCapable: true) or Nodes (a NodeList) is required',
      });
  });

/** The candidate nodes of a request, in the order given, and how they came (decides the answer's shape). */
export interface ExtenderArgs {
  pod: ExtenderPod;
  mode: 'nodeNames' | 'nodeList';
  nodeNames: string[];
  nodeList?: ReceivedNodeList;
}

/** Validates an ExtenderArgs body; the error names the offending field, e.g. "Pod.metadata.name: Required". */
export function parseExtenderArgs(body: unknown): ParseResult<ExtenderArgs> {
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    return { ok: false, error: 'body: must be a JSON object (ExtenderArgs {Pod, Nodes, NodeNames})' };
  const r = extenderArgsSchema.safeParse(body);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const path = issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${p}`)).join('').replace(/^\./, '');
    return { ok: false, error: `${path || 'body'}: ${issue.message}` };
  }
  const { Pod, Nodes, NodeNames } = r.data;
  // Go reads NodeNames when the extender is nodeCacheCapable, else Nodes; a sender sets one of them.
  if (NodeNames !== null && NodeNames !== undefined && Nodes === null)
    return { ok: true, value: { pod: Pod, mode: 'nodeNames', nodeNames: NodeNames } };
  const list = Nodes!;
  return { ok: true, value: { pod: Pod, mode: 'nodeList', nodeNames: list.names, nodeList: list } };
}

/** ExtenderFilterResult as kube-scheduler decodes it. */
export interface ExtenderFilterResult {
  /** NodeList mode: the input NodeList with only the passing Node objects. */
  Nodes: { items: unknown[]; [key: string]: unknown } | null;
  NodeNames: string[] | null;
  FailedNodes: Record<string, string>;
  FailedAndUnresolvableNodes: Record<string, string>;
  Error: string;
}

/** HostPriority list: one entry per input node. */
export type HostPriorityList = Array<{ Host: string; Score: number }>;

export const extenderFilterResultSchema = z
  .object({
    Nodes: z.object({ items: z.array(z.unknown()) }).passthrough().nullable(),
    NodeNames: z.array(z.string()).nullable(),
    FailedNodes: z.record(z.string(), z.string()),
    FailedAndUnresolvableNodes: z.record(z.string(), z.string()),
    Error: z.string(),
  })
  .strict();

export const hostPriorityListSchema = z.array(
  z
    .object({
      Host: z.string().min(1),
      Score: z.number().int().min(0).max(MAX_EXTENDER_PRIORITY),
    })
    .strict(),
);

/**
 * Builds the filter answer in the request's mode: NodeNames mode answers NodeNames; NodeList mode
 * answers Nodes with the original Node objects of the nodes that pass (kube-scheduler ignores
 * NodeNames in that mode and would drop every node).
 */
export function filterResult(
  args: ExtenderArgs,
  passing: ReadonlySet<string>,
  failedAndUnresolvable: Record<string, string>,
): ExtenderFilterResult {
  if (args.mode === 'nodeNames') {
    return {
      Nodes: null,
      NodeNames: args.nodeNames.filter((n) => passing.has(n)),
      FailedNodes: {},
      FailedAndUnresolvableNodes: failedAndUnresolvable,
      Error: '',
    };
  }
  const list = args.nodeList!;
  const items = list.items.filter((_, i) => passing.has(list.names[i]!));
  return {
    Nodes: { ...list.list, items },
    NodeNames: null,
    FailedNodes: {},
    FailedAndUnresolvableNodes: failedAndUnresolvable,
    Error: '',
  };
}

/** The filter answer for a malformed request: kube-scheduler reports Error (we also send HTTP 400). */
export function filterError(message: string): ExtenderFilterResult {
  return { Nodes: null, NodeNames: null, FailedNodes: {}, FailedAndUnresolvableNodes: {}, Error: message };
}
