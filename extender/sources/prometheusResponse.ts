// Prometheus HTTP API (/api/v1/query) response bodies, validated: a malformed answer is an error
// the caller can count and log, never a crash or a bogus number.
import { z } from 'zod';

const sampleValue = z.tuple([z.number(), z.string()]);

export const vectorSampleSchema = z.object({
  metric: z.record(z.string(), z.string()),
  value: sampleValue,
});
export type VectorSample = z.infer<typeof vectorSampleSchema>;

export const queryResponseSchema = z.discriminatedUnion('status', [
  z.object({
    status: z.literal('success'),
    data: z.discriminatedUnion('resultType', [
      z.object({ resultType: z.literal('vector'), result: z.array(vectorSampleSchema) }),
      z.object({ resultType: z.literal('scalar'), result: sampleValue }),
      z.object({ resultType: z.literal('string'), result: sampleValue }),
      z.object({
        resultType: z.literal('matrix'),
        result: z.array(z.object({ metric: z.record(z.string(), z.string()), values: z.array(sampleValue) })),
      }),
    ]),
    warnings: z.array(z.string()).optional(),
  }),
  z.object({
    status: z.literal('error'),
    errorType: z.string(),
    error: z.string(),
  }),
]);
export type QueryResponse = z.infer<typeof queryResponseSchema>;

export class PromQueryError extends Error {
  override name = 'PromQueryError';
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The samples of a well-formed vector answer, checked by hand, else undefined. The same rules as
 * the schema, without zod's per-sample bookkeeping, which takes seconds on the 400 000 samples of
 * a 5000-node cluster; anything this refuses goes through the schema, which explains it.
 */
function wellFormedVector(body: unknown): VectorSample[] | undefined {
  if (!isRecord(body) || body.status !== 'success' || !isRecord(body.data)) return undefined;
  const { resultType, result } = body.data;
  if (resultType !== 'vector' || !Array.isArray(result)) return undefined;
  const w = body.warnings;
  if (w !== undefined && !(Array.isArray(w) && w.every((x) => typeof x === 'string'))) return undefined;
  for (const sample of result as unknown[]) {
    if (!isRecord(sample) || !isRecord(sample.metric)) return undefined;
    const labels = sample.metric;
    for (const k in labels) if (typeof labels[k] !== 'string') return undefined;
    const v = sample.value;
    if (!Array.isArray(v) || v.length !== 2 || typeof v[0] !== 'number' || Number.isNaN(v[0]) || typeof v[1] !== 'string') return undefined;
  }
  return result as VectorSample[];
}

/** The samples of an instant-vector answer; throws PromQueryError on an error answer or another result type. */
export function instantVector(body: unknown, query: string): VectorSample[] {
  const fast = wellFormedVector(body);
  if (fast) return fast;
  const parsed = queryResponseSchema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new PromQueryError(`${query}: malformed Prometheus answer at ${issue.path.join('.') || 'body'}: ${issue.message}`);
  }
  const r = parsed.data;
  if (r.status === 'error') throw new PromQueryError(`${query}: Prometheus ${r.errorType}: ${r.error}`);
  if (r.data.resultType !== 'vector') throw new PromQueryError(`${query}: expected a vector, got ${r.data.resultType}`);
  return r.data.result;
}

/** A sample's numeric value ("NaN", "+Inf" included, as Prometheus writes them). */
export function sampleNumber(s: VectorSample): number {
  return Number(s.value[1].replace('Inf', 'Infinity'));
}
