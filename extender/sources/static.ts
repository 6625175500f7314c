// The `static` source: links given by hand, inline or in a YAML/JSON file (re-read every refresh,
// so a scenario can edit it live), or a matrix given in code (tests, scenario sim mode).
// Hand-written values are dated "now minus age" at every refresh: fresh unless `age` says otherwise.
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { staticLinkSchema, type StaticLink } from '../config.js';
import { parseYamlConfig } from '../../src/config/loadYaml.js';
import { LinkMatrix } from '../../src/linkMatrix.js';
import type { LinkMetricKey } from '../../src/linkMetrics.js';
import type { MetricSource } from './source.js';

export const staticLinksFileSchema = z.object({ links: z.array(staticLinkSchema) });

/** Builds a matrix from hand-written links at time `now` (unix seconds). */
export function matrixFromStaticLinks(links: readonly StaticLink[], now = Date.now() / 1000): LinkMatrix {
  const m = new LinkMatrix(now);
  for (const l of links) {
    const t = now - l.age;
    const put = (key: LinkMetricKey, v: number | undefined) => {
      if (v !== undefined) m.set(l.source, l.target, key, { value: v, timestamp: t });
    };
    put('rtt_seconds', l.rtt);
    put('bandwidth_bytes_per_second', l.bandwidth);
    put('jitter_seconds', l.jitter);
    put('packet_loss_ratio', l.loss);
    for (const [key, v] of Object.entries(l.metrics ?? {}) as Array<[LinkMetricKey, { value: number; timestamp: number }]>)
      m.set(l.source, l.target, key, v);
  }
  return m;
}

export type StaticInput =
  | { links: readonly StaticLink[] }
  | { file: string }
  | { matrix: LinkMatrix | (() => LinkMatrix) };

export class StaticSource implements MetricSource {
  readonly type = 'static';

  constructor(
    private readonly input: StaticInput,
    readonly interval = 10,
  ) {}

  async fetch(): Promise<LinkMatrix> {
    if ('matrix' in this.input) {
      const m = this.input.matrix;
      return typeof m === 'function' ? m() : m;
    }
    if ('links' in this.input) return matrixFromStaticLinks(this.input.links);
    const text = await readFile(this.input.file, 'utf8');
    return matrixFromStaticLinks(parseYamlConfig(text, staticLinksFileSchema, this.input.file).links);
  }
}
