import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { instantVector, PromQueryError, queryResponseSchema } from '../../extender/sources/prometheusResponse.js';
import { linkQueries, matrixFromSamples } from '../../extender/sources/prometheusLinkQueries.js';

const vector = (result: unknown[]) => ({ status: 'success', data: { resultType: 'vector', result } });
const labels = (s: string, t: string, extra: Record<string, string> = {}) => ({
  __name__: 'x',
  source_node: s,
  target_node: t,
  network: 'lpm-measurement',
  ...extra,
});

describe('prometheus link queries', () => {
  it('queries every gauge and the measurement timestamps, with an optional matcher', () => {
    const recorded = linkQueries('network="net-a"').map((x) => x.query);
    expect(recorded).toContain('lpm:link_rtt_seconds:latest{network="net-a"}');
    expect(recorded).toContain('lpm:link_last_measurement_timestamp_seconds:latest{network="net-a"}');
    const raw = linkQueries('', false).map((x) => x.query);
    expect(raw).toContain('max by (source_node, target_node, network) (lpm_link_bandwidth_bytes_per_second)');
    expect(raw).toContain('max by (source_node, target_node, network, metric) (lpm_link_last_measurement_timestamp_seconds)');
  });

  it('dates each value by the agent measurement time, not the scrape time', () => {
    const answers = new Map([
      ['rtt_seconds', instantVector(vector([{ metric: labels('a', 'b'), value: [2000, '0.004'] }]), 'q')],
      ['bandwidth_bytes_per_second', instantVector(vector([{ metric: labels('a', 'b'), value: [2000, '1.25e7'] }]), 'q')],
      [
        'timestamp',
        instantVector(
          vector([
            { metric: labels('a', 'b', { metric: 'rtt' }), value: [2000, '1990'] },
            { metric: labels('a', 'b', { metric: 'bandwidth' }), value: [2000, '1700'] },
          ]),
          'q',
        ),
      ],
    ] as const);
    const m = matrixFromSamples(new Map(answers), 2000);
    expect(m.get('a', 'b')?.rtt_seconds).toEqual({ value: 0.004, timestamp: 1990 });
    expect(m.get('a', 'b')?.bandwidth_bytes_per_second).toEqual({ value: 1.25e7, timestamp: 1700 });
    expect(m.lookup('a', 'b', 'bandwidth_bytes_per_second', 2000, 60).status).toBe('stale');
    expect(m.lookup('a', 'b', 'rtt_seconds', 2000, 60).status).toBe('fresh');
  });

  it('rejects error answers and malformed bodies with the query named', () => {
    expect(() => instantVector({ status: 'error', errorType: 'bad_data', error: 'parse error' }, 'up{')).toThrow(
      /up\{: Prometheus bad_data: parse error/,
    );
    expect(() => instantVector({ status: 'success', data: { resultType: 'vector', result: [{ value: 3 }] } }, 'q')).toThrow(
      PromQueryError,
    );
    expect(() => instantVector({ status: 'success', data: { resultType: 'scalar', result: [1, '1'] } }, 'q')).toThrow(/expected a vector/);
  });

  it("accepts exactly the vector answers the schema accepts (its fast path is checked by hand)", () => {
    const label = fc.oneof(fc.string(), fc.integer(), fc.constant(null));
    const sample = fc.record(
      {
        metric: fc.oneof(fc.dictionary(fc.string(), fc.string()), fc.dictionary(fc.string(), label), fc.constant(null), fc.array(fc.string())),
        value: fc.oneof(fc.tuple(fc.double(), fc.string()), fc.tuple(fc.string(), fc.string()), fc.array(fc.oneof(fc.double(), fc.string()), { maxLength: 3 })),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(fc.array(sample, { maxLength: 5 }), fc.option(fc.array(fc.oneof(fc.string(), fc.integer()), { maxLength: 2 })), (result, warnings) => {
        const body = { status: 'success', data: { resultType: 'vector', result }, ...(warnings === null ? {} : { warnings }) };
        let ours: boolean;
        try {
          instantVector(body, 'q');
          ours = true;
        } catch (err) {
          expect(err).toBeInstanceOf(PromQueryError);
          ours = false;
        }
        expect(ours).toBe(queryResponseSchema.safeParse(body).success);
      }),
      { numRuns: 500 },
    );
  });
});
