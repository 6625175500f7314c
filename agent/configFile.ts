// Reads the agent's config text in either format, told apart by content (no flag): our YAML
// (agent/config.ts), or the original LPM's JSON (agent/lpmCompat/originalConfig.ts), recognised by
// any of its own top-level keys (Nodename, MetricsNeighbourNodes, NeighbourNodes, probeInterface,
// spreadFactor, ipAddress). Both report problems the same way: `FILE:LINE: field: problem`.
import { z } from 'zod';
import { ConfigError, formatPath, parseYamlConfig, parseYamlText } from '../src/config/loadYaml.js';
import { agentConfigSchema, type AgentConfig } from './config.js';
import { convertOriginalConfig, ORIGINAL_KEYS, originalConfigSchema, type OriginalConfig } from './lpmCompat/originalConfig.js';

export type AgentConfigFormat = 'lpm-yaml' | 'original-lpm-json';

export interface ParsedAgentConfig {
  config: AgentConfig;
  format: AgentConfigFormat;
  /** What a conversion from the original format decided (shown by --check). */
  notes: string[];
}

/** The top-level value of a config text, if it parses as JSON or YAML at all. */
function roughParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    try {
      // with the loader's limits (size, aliases, nesting): this runs before anything else looks
      return parseYamlText(text).value;
    } catch {
      return undefined;
    }
  }
}

/** Which format a config text is in. Anything that is not clearly the original is ours. */
export function detectConfigFormat(text: string): AgentConfigFormat {
  const data = roughParse(text);
  if (data === undefined) {
    // broken JSON still says what it was meant to be (its syntax error is then reported as JSON's)
    const quotedKey = new RegExp(`"(?:${ORIGINAL_KEYS.join('|')})"\\s*:`);
    return quotedKey.test(text) ? 'original-lpm-json' : 'lpm-yaml';
  }
  if (data && typeof data === 'object' && !Array.isArray(data) && ORIGINAL_KEYS.some((k) => k in data)) return 'original-lpm-json';
  return 'lpm-yaml';
}

/** Line of a JSON.parse error ("... at position 42" / "(line 3 column 5)"), when it says. */
function jsonErrorLine(text: string, message: string): number | undefined {
  const line = /line (\d+)/.exec(message);
  if (line) return Number(line[1]);
  const pos = /position (\d+)/.exec(message);
  if (pos) return text.slice(0, Number(pos[1])).split('\n').length;
  return undefined;
}

/**
 * The original JSON, validated. JSON is YAML, so the YAML loader gives problems their line; a
 * text that only JSON accepts (tabs in odd places) is validated without lines.
 */
function parseOriginal(text: string, source: string): OriginalConfig {
  let yamlLine: number | undefined;
  try {
    return parseYamlConfig(text, originalConfigSchema, source);
  } catch (err) {
    if (!(err instanceof ConfigError) || !err.problems.every((p) => p.includes(': YAML syntax: '))) throw err;
    const m = /^.*?:(\d+): YAML syntax: /.exec(err.problems[0] ?? '');
    yamlLine = m ? Number(m[1]) : undefined;
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    const message = (err as Error).message.split('\n')[0]!;
    // JSON.parse does not always say where; the YAML parser (JSON is YAML) did
    const line = jsonErrorLine(text, message) ?? yamlLine;
    const problem = `${source}${line ? `:${line}` : ''}: JSON syntax: ${message}`;
    throw new ConfigError(problem, [problem]);
  }
  const result = originalConfigSchema.safeParse(data);
  if (result.success) return result.data;
  const problems = result.error.issues.map((i: z.ZodIssue) => `${source}: ${formatPath(i.path)}: ${i.message}`);
  throw new ConfigError(problems.join('\n'), problems);
}

/** Parses and validates an agent config text of either format; throws ConfigError listing every problem. */
export function parseAgentConfigText(text: string, source = 'config'): ParsedAgentConfig {
  if (detectConfigFormat(text) === 'original-lpm-json') {
    const { config, notes } = convertOriginalConfig(parseOriginal(text, source));
    return { config, format: 'original-lpm-json', notes };
  }
  return { config: parseYamlConfig(text, agentConfigSchema, source), format: 'lpm-yaml', notes: [] };
}
