// peers.traffic in the extender's YAML: a URL is enough; mistakes name the field and line.
import { describe, expect, it } from 'vitest';
import { extenderConfigSchema } from '../../extender/config.js';
import { parseYamlConfig } from '../../src/config/loadYaml.js';
import { DEFAULT_TRAFFIC_QUERY } from '../../extender/peers/trafficMatrix.js';

const base = 'source: { type: static, links: [] }\n';

describe('extender config: peers.traffic', () => {
  it('is off by default; a URL alone reads Istio with the defaults', () => {
    expect(parseYamlConfig(base, extenderConfigSchema).peers.traffic).toBeUndefined();
    const c = parseYamlConfig(`${base}peers:\n  traffic:\n    url: http://prometheus.istio-system:9090\n`, extenderConfigSchema);
    expect(c.peers.traffic).toEqual({
      url: 'http://prometheus.istio-system:9090',
      query: DEFAULT_TRAFFIC_QUERY,
      sourceLabel: 'source_app',
      targetLabel: 'destination_app',
      sourceNamespaceLabel: 'source_workload_namespace',
      targetNamespaceLabel: 'destination_workload_namespace',
      podLabel: 'app',
      interval: 30,
      timeout: 5,
    });
  });

  it('names the field and line of a bad value or an unknown key', () => {
    const text = `${base}peers:\n  traffic:\n    url: prometheus:9090\n    intervall: 10s\n`;
    expect(() => parseYamlConfig(text, extenderConfigSchema, 'extender.yaml')).toThrow(/extender\.yaml:4: peers\.traffic\.url: .*http/);
    expect(() => parseYamlConfig(text, extenderConfigSchema, 'extender.yaml')).toThrow(/peers\.traffic: Unrecognized key\(s\) in object: 'intervall'/);
  });
});
