// The collector's Prometheus files, checked by the real promtool (Debian's prometheus package):
// the recording rules parse and compute what they should (promtool test rules), the cluster and
// lab scrape configs are valid, and every PromQL expression we ship (dashboard, extender
// queries) parses. Run with: npx vitest run test/unit/prometheus-rules.test.ts
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { parse as parseYaml, stringify } from 'yaml';
import { z } from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labPrometheusConfig, recordingRulesFile } from '../../scenarios/lab/prometheus.js';
import { dashboardQueries } from '../helpers/dashboardQueries.js';
import { describeWithCapabilities, missingCapabilities, promtool as promtoolCheck } from '../helpers/capability.js';
import { linkQueries } from '../../extender/sources/prometheusLinkQueries.js';

const ROOT = resolve(import.meta.dirname, '../..');
const RULES = join(ROOT, 'manifests/prometheus/recording-rules.yaml');
const CONFIG = join(ROOT, 'manifests/prometheus/prometheus.yml');
const RULES_TEST = join(ROOT, 'test/fixtures/prometheus/recording-rules.test.yaml');
const DASHBOARD = join(ROOT, 'manifests/grafana/lpm-dashboard.json');

const missing = await missingCapabilities([promtoolCheck()]);

type RuleFile = { groups: { name: string; interval?: string; rules: { record?: string; alert?: string; expr: string }[] }[] };
const shippedRules = parseYaml(readFileSync(RULES, 'utf8')) as RuleFile;
const recorded = shippedRules.groups.flatMap((g) => g.rules.map((r) => r.record!));

const promtool = (args: string[]) => execa('promtool', args, { reject: false, all: true });

/**
 * The kubernetes_sd_configs blocks of our cluster config, strictly: the role and namespace
 * fields Prometheus accepts (discovery/kubernetes SDConfig). Used where the local promtool was
 * built without Kubernetes discovery (Debian's is) and cannot check them itself.
 */
const kubernetesSdSchema = z
  .object({
    role: z.enum(['node', 'pod', 'service', 'endpoints', 'endpointslice', 'ingress']),
    namespaces: z
      .object({ own_namespace: z.boolean().optional(), names: z.array(z.string().min(1)).optional() })
      .strict()
      .optional(),
    selectors: z
      .array(z.object({ role: z.string(), label: z.string().optional(), field: z.string().optional() }).strict())
      .optional(),
    attach_metadata: z.object({ node: z.boolean().optional() }).strict().optional(),
  })
  .strict();

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'lpm-promtool-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describeWithCapabilities('promtool', missing, () => {
  it('check rules: every shipped recording rule is valid', async () => {
    const r = await promtool(['check', 'rules', RULES]);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.all).toContain(`SUCCESS: ${recorded.length} rules found`);
    // Recording rule names follow level:metric:operations.
    for (const name of recorded) expect(name).toMatch(/^lpm:[a-z0-9_]+(:[a-z0-9_]+)?$/);
  });

  it('test rules: the recording rules compute the matrices (fixtures/prometheus/recording-rules.test.yaml)', async () => {
    const r = await promtool(['test', 'rules', RULES_TEST]);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.all).toContain('SUCCESS');
    // Every rule we ship is exercised by that file.
    const tested = readFileSync(RULES_TEST, 'utf8');
    for (const name of recorded) expect(tested, name).toContain(`expr: ${name}`);
  });

  it('test rules fails on a wrong expectation and check rules on a broken rule (the checks can fail)', async () => {
    const wrong = readFileSync(RULES_TEST, 'utf8')
      .replace('../../../manifests/prometheus/recording-rules.yaml', RULES)
      .replace('value: 0.003', 'value: 0.004');
    writeFileSync(join(dir, 'wrong.test.yaml'), wrong);
    const r = await promtool(['test', 'rules', join(dir, 'wrong.test.yaml')]);
    expect(r.exitCode).not.toBe(0);
    expect(r.all).toContain('FAILED');

    const broken = structuredClone(shippedRules);
    broken.groups[0]!.rules[0]!.expr = 'max by (source_node (lpm_link_rtt_seconds)';
    writeFileSync(join(dir, 'broken-rules.yaml'), stringify(broken));
    const b = await promtool(['check', 'rules', join(dir, 'broken-rules.yaml')]);
    expect(b.exitCode).not.toBe(0);
  });

  it('check config: the cluster scrape config (Kubernetes service discovery) is valid', async () => {
    const config = parseYaml(readFileSync(CONFIG, 'utf8')) as {
      rule_files: string[];
      global: { scrape_interval: string };
      scrape_configs: { job_name: string; kubernetes_sd_configs?: unknown[]; static_configs?: unknown[] }[];
    };
    expect(config.global.scrape_interval).toBe('15s');
    expect(config.rule_files).toEqual(['recording-rules.yaml']);
    expect(config.scrape_configs.map((j) => j.job_name)).toEqual(['lpm-agent', 'lpm-extender', 'prometheus']);
    for (const job of config.scrape_configs.slice(0, 2)) {
      expect(job.kubernetes_sd_configs, job.job_name).toHaveLength(1);
      expect(kubernetesSdSchema.parse(job.kubernetes_sd_configs![0])).toMatchObject({ role: 'pod' });
    }

    // Next to the rules file, as in the pod (/etc/prometheus).
    copyFileSync(RULES, join(dir, 'recording-rules.yaml'));
    copyFileSync(CONFIG, join(dir, 'prometheus.yml'));
    const direct = await promtool(['check', 'config', join(dir, 'prometheus.yml')]);
    if (direct.exitCode !== 0 && /field kubernetes_sd_configs not found/.test(direct.all ?? '')) {
      // Debian builds Prometheus without Kubernetes discovery. Check everything else with the
      // discovery blocks swapped for static ones (their fields were checked by the schema above).
      for (const job of config.scrape_configs) {
        if (!job.kubernetes_sd_configs) continue;
        delete job.kubernetes_sd_configs;
        job.static_configs = [{ targets: ['10.0.0.1:9105'] }];
      }
      writeFileSync(join(dir, 'prometheus-static.yml'), stringify(config));
      const r = await promtool(['check', 'config', join(dir, 'prometheus-static.yml')]);
      expect(r.exitCode, r.all).toBe(0);
      expect(r.all).toContain(`SUCCESS: ${recorded.length} rules found`);
    } else {
      expect(direct.exitCode, direct.all).toBe(0);
    }
  });

  it('check config: the lab config (static targets) is valid and labels targets like the cluster config', async () => {
    expect(resolve(recordingRulesFile())).toBe(RULES);
    const text = labPrometheusConfig(
      {
        agents: [
          { node: 'node-a', target: '10.99.0.1:9105' },
          { node: 'node-b', target: '10.99.0.2:9105' },
        ],
        extenders: ['127.0.0.1:8888'],
      },
      { lab: 'promtool-check', scrapeInterval: 15 },
      [RULES],
    );
    const file = join(dir, 'lab.yml');
    writeFileSync(file, text);
    const r = await promtool(['check', 'config', file]);
    expect(r.exitCode, r.all).toBe(0);
    // Same job names and the same `node` label as the cluster's relabelling, so the rules, the
    // dashboard and the extender read lab and cluster alike.
    const lab = parseYaml(text) as { scrape_configs: { job_name: string; static_configs: { labels?: Record<string, string> }[] }[] };
    const agentJob = lab.scrape_configs.find((j) => j.job_name === 'lpm-agent');
    expect(agentJob?.static_configs.map((s) => s.labels?.node)).toEqual(['node-a', 'node-b']);
    expect(lab.scrape_configs.map((j) => j.job_name)).toContain('lpm-extender');
    const cluster = readFileSync(CONFIG, 'utf8');
    expect(cluster).toMatch(/source_labels: \[__meta_kubernetes_pod_node_name\]\n\s+target_label: node/);
  });

  it('every dashboard expression and every extender query is valid PromQL', async () => {
    const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as unknown;
    const exprs = [
      ...dashboardQueries(dashboard).map((q) => ({ where: `dashboard: ${q.panelTitle} ${q.refId}`, expr: q.expr })),
      ...linkQueries().map((q) => ({ where: `extender (recording rules): ${q.key}`, expr: q.query })),
      ...linkQueries('network="lpm-measurement"', false).map((q) => ({ where: `extender (raw): ${q.key}`, expr: q.query })),
    ];
    expect(exprs.length).toBeGreaterThan(20);
    // promtool parses rule expressions: one recording rule per expression checks them all.
    const file = join(dir, 'exprs.yaml');
    writeFileSync(
      file,
      stringify({ groups: [{ name: 'exprs', rules: exprs.map((e, i) => ({ record: `lpm_expr_${i}`, expr: e.expr })) }] }),
    );
    const r = await promtool(['check', 'rules', file]);
    const failures = exprs.filter((_, i) => (r.all ?? '').includes(`lpm_expr_${i}`)).map((e) => e.where);
    expect(r.exitCode, `${r.all}\n${failures.join('\n')}`).toBe(0);
  });
});

describe('the extender reads names our rules record', () => {
  it('linkQueries() (recording-rule mode) only uses lpm:* series from recording-rules.yaml', () => {
    const used = linkQueries().flatMap((q) => q.query.match(/lpm:[a-z_:0-9]+/g) ?? []);
    expect(used.length).toBe(linkQueries().length);
    for (const name of used) expect(recorded, name).toContain(name);
  });
});
