// Loads a YAML config file and validates it with a zod schema. Errors name the file, the line
// and the field path ("agent.yaml:7: metrics[1].interval: ..."), so a human can fix them.
import { readFile } from 'node:fs/promises';
import { isMap, isSeq, LineCounter, parseDocument, type Node as YamlNode } from 'yaml';
import type { z } from 'zod';

export class ConfigError extends Error {
  constructor(
    message: string,
    readonly problems: string[],
  ) {
    super(message);
    this.name = 'ConfigError';
  }
}

export function formatPath(path: ReadonlyArray<string | number>): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${p}` : p;
  return out || '(top level)';
}

/** Parses YAML text and validates it; throws ConfigError listing every problem with its line. */
export function parseYamlConfig<S extends z.ZodTypeAny>(text: string, schema: S, source = 'config'): z.output<S> {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  if (doc.errors.length > 0) {
    const problems = doc.errors.map((e) => {
      const { line } = lines.linePos(e.pos[0]);
      return `${source}:${line}: YAML syntax: ${e.message.split('\n')[0]}`;
    });
    throw new ConfigError(problems.join('\n'), problems);
  }
  const data: unknown = doc.toJS() ?? {};
  const result = schema.safeParse(data);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const line = lineOf(doc.contents, issue.path, lines);
    return `${source}${line ? `:${line}` : ''}: ${formatPath(issue.path)}: ${issue.message}`;
  });
  throw new ConfigError(problems.join('\n'), problems);
}

/** Reads and validates a YAML config file. */
export async function loadYamlConfig<S extends z.ZodTypeAny>(file: string, schema: S): Promise<z.output<S>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`${file}: cannot read: ${(err as Error).message}`, [(err as Error).message]);
  }
  return parseYamlConfig(text, schema, file);
}

// Walks the YAML AST along the zod path as far as it goes; the deepest node found gives the line.
function lineOf(root: unknown, path: ReadonlyArray<string | number>, lines: LineCounter): number | undefined {
  let node = root as YamlNode | null | undefined;
  let best: number | undefined = rangeLine(node, lines);
  for (const key of path) {
    if (isMap(node)) {
      const pair = node.items.find((it) => {
        const k = it.key as { value?: unknown } | null;
        return k != null && String(k.value) === String(key);
      });
      if (!pair) break;
      best = rangeLine(pair.key as YamlNode, lines) ?? best;
      node = pair.value as YamlNode | null;
      best = rangeLine(node, lines) ?? best;
    } else if (isSeq(node) && typeof key === 'number') {
      node = node.items[key] as YamlNode | null;
      best = rangeLine(node, lines) ?? best;
    } else {
      break;
    }
  }
  return best;
}

function rangeLine(node: unknown, lines: LineCounter): number | undefined {
  const range = (node as { range?: [number, number, number] } | null | undefined)?.range;
  return range ? lines.linePos(range[0]).line : undefined;
}
