// Builds the configured metric source.
import type { SourceConfig } from '../config.js';
import { DirectSource } from './direct.js';
import { PrometheusSource } from './prometheus.js';
import type { MetricSource } from './source.js';
import { StaticSource } from './static.js';

export function createSource(cfg: SourceConfig): MetricSource {
  switch (cfg.type) {
    case 'static':
      return new StaticSource(cfg.file !== undefined ? { file: cfg.file } : { links: cfg.links ?? [] }, cfg.interval);
    case 'direct':
      return new DirectSource(cfg.agents, cfg.interval, cfg.timeout);
    case 'prometheus':
      return new PrometheusSource({
        url: cfg.url, interval: cfg.interval, timeout: cfg.timeout, matcher: cfg.matcher,
        recordingRules: cfg.recordingRules,
      });
  }
  throw new Error(`unknown source.type "${(cfg as { type: string }).type}"`);
}
