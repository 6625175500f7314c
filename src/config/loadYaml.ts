// Loads a YAML config file and validates it with a zod schema. Errors name the file, the line
// and the field path ("agent.yaml:7: metrics[1].interval: ..."), so a human can fix them.
import { open } from 'node:fs/promises';
import {
  isAlias,
  isCollection,
  isMap,
  isPair,
  isSeq,
  LineCounter,
  parseDocument,
  Parser,
  visit,
  type Alias,
  type Document,
  type Node as YamlNode,
} from 'yaml';
import type { z } from 'zod';

/**
 * Largest config text lpm reads: a ConfigMap holds at most 1 MiB, and no config needs more. A
 * larger file is refused (and only this much of it is ever read).
 */
export const MAX_CONFIG_BYTES = 1024 * 1024;
/**
 * The yaml package's `maxAliasCount`: how far aliases may multiply a document before it is
 * refused as an alias bomb ("billion laughs"). Stated here, so it cannot change under us.
 */
export const MAX_ALIAS_COUNT = 100;
/**
 * Deepest nesting of collections a config may have (lpm's need a handful of levels). Deeper input
 * would reach the yaml package's recursive composer: a few thousand levels exhaust the stack, and
 * some more crash V8 itself (a fatal out-of-memory in its RegExp compiler), which no catch survives.
 */
export const MAX_NESTING_DEPTH = 64;

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
  const data = parseYamlText(text, source);
  const { doc, lines } = data;
  const result = schema.safeParse(data.value);
  if (result.success) return result.data as z.output<S>;
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
    text = await readConfigText(file);
  } catch (err) {
    throw new ConfigError(`${file}: cannot read: ${(err as Error).message}`, [(err as Error).message]);
  }
  return parseYamlConfig(text, schema, file);
}

/**
 * Reads a config file as UTF-8, at most `maxBytes` + 1 bytes of it: enough for parseYamlConfig to
 * refuse a file over the limit, without reading a huge one (or /dev/zero) into memory. Rejects
 * with the file system's error (ENOENT, EACCES, ...).
 */
export async function readConfigText(file: string, maxBytes = MAX_CONFIG_BYTES): Promise<string> {
  const fh = await open(file, 'r');
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    while (total <= maxBytes) {
      const chunk = Buffer.alloc(Math.min(64 * 1024, maxBytes + 1 - total));
      const { bytesRead } = await fh.read(chunk, 0, chunk.length, null);
      if (bytesRead === 0) break;
      chunks.push(chunk.subarray(0, bytesRead));
      total += bytesRead;
    }
    return Buffer.concat(chunks).toString('utf8');
  } finally {
    await fh.close();
  }
}

/**
 * YAML text -> plain data, with the limits every config shares: at most MAX_CONFIG_BYTES, aliases
 * expanding at most MAX_ALIAS_COUNT-fold, and no input that makes the parser itself fail (a deep
 * nesting exhausting the stack). Every refusal is a ConfigError naming `source:line`.
 */
export function parseYamlText(
  text: string,
  source = 'config',
  maxBytes = MAX_CONFIG_BYTES,
): { value: unknown; doc: Document.Parsed; lines: LineCounter } {
  const fail = (line: number, what: string): never => {
    const problem = `${source}:${line}: ${what}`;
    throw new ConfigError(problem, [problem]);
  };
  if (Buffer.byteLength(text, 'utf8') > maxBytes) {
    const within = Buffer.from(text, 'utf8').subarray(0, maxBytes + 1).toString('utf8');
    fail(within.split('\n').length, `file too large: more than ${maxBytes} bytes (the limit for a config file)`);
  }
  // The CST parser is iterative: it measures the nesting safely before the recursive composer runs.
  let deep: number | undefined;
  try {
    deep = tooDeepAt(text, MAX_NESTING_DEPTH);
  } catch (err) {
    return fail(1, `YAML: cannot be parsed: ${(err as Error).message}`);
  }
  if (deep !== undefined) fail(text.slice(0, deep).split('\n').length, `YAML: nested more than ${MAX_NESTING_DEPTH} levels deep`);
  const lines = new LineCounter();
  let doc: Document.Parsed;
  try {
    doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  } catch (err) {
    return fail(1, `YAML: cannot be parsed: ${(err as Error).message}`);
  }
  if (doc.errors.length > 0) {
    const problems = doc.errors.map((e) => {
      const { line } = lines.linePos(e.pos[0]);
      return `${source}:${line}: YAML syntax: ${e.message.split('\n')[0]}`;
    });
    throw new ConfigError(problems.join('\n'), problems);
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) ?? {};
  } catch (err) {
    const message = (err as Error).message;
    const bomb = /alias count/i.test(message) ? aliasBomb(doc, MAX_ALIAS_COUNT) : undefined;
    const at = bomb ?? firstAlias(doc);
    const line = rangeLine(at, lines) ?? 1;
    if (bomb)
      fail(line, `YAML aliases: *${bomb.source} expands the document more than ${MAX_ALIAS_COUNT}-fold (an alias bomb?); write the values out`);
    fail(line, `YAML: ${message}`);
  }
  return { value, doc, lines };
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
      best = rangeLine(pair.key, lines) ?? best;
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

function firstAlias(doc: Document.Parsed): Alias | undefined {
  let found: Alias | undefined;
  visit(doc, {
    Alias(_key, node) {
      found = node;
      return visit.BREAK;
    },
  });
  return found;
}

/**
 * The alias at which the yaml package's maxAliasCount check trips: the same rule, replayed in
 * document order (the order toJS resolves aliases in), to tell the user which line. Each anchor
 * counts its uses (from 1); an anchored node's weight is the largest use count x weight of an
 * alias inside it (1 without aliases); an alias fails when uses x weight of its anchor exceed max.
 */
export function aliasBomb(doc: Document.Parsed, max: number): Alias | undefined {
  const anchors = new Map<string, YamlNode>();
  const resolved = new Map<Alias, YamlNode>();
  const data = new Map<YamlNode, { count: number; aliasCount: number }>();
  const weight = (node: unknown): number => {
    if (isAlias(node)) {
      const src = resolved.get(node);
      const d = src && data.get(src);
      return d ? d.count * d.aliasCount : 0;
    }
    if (isCollection(node)) {
      let w = 0;
      for (const item of node.items) w = Math.max(w, weight(item));
      return w;
    }
    if (isPair(node)) return Math.max(weight(node.key), weight(node.value));
    return 1;
  };
  let bomb: Alias | undefined;
  visit(doc, {
    Node(_key, node) {
      if (isAlias(node)) {
        const src = anchors.get(node.source);
        if (!src) return undefined;
        resolved.set(node, src);
        const d = data.get(src) ?? { count: 1, aliasCount: 0 };
        data.set(src, d);
        d.count += 1;
        if (d.aliasCount === 0) d.aliasCount = weight(src);
        if (d.count * d.aliasCount > max) {
          bomb = node;
          return visit.BREAK;
        }
      } else if (node.anchor) {
        anchors.set(node.anchor, node);
        data.set(node, { count: 1, aliasCount: 0 });
      }
      return undefined;
    },
  });
  return bomb;
}

/** Offset of the first collection nested deeper than `max` levels, from the CST (no recursion). */
function tooDeepAt(text: string, max: number): number | undefined {
  type Cst = { type: string; offset: number; value?: Cst; items?: Array<{ key?: Cst | null; value?: Cst }> };
  for (const top of new Parser().parse(text)) {
    const stack: Array<[Cst | undefined | null, number]> = [[top, 0]];
    while (stack.length > 0) {
      const [token, depth] = stack.pop()!;
      if (!token) continue;
      if (token.type === 'document') {
        stack.push([token.value, depth]);
        continue;
      }
      if (!token.items) continue;
      if (depth + 1 > max) return token.offset;
      for (const item of token.items) stack.push([item.key, depth + 1], [item.value, depth + 1]);
    }
  }
  return undefined;
}
