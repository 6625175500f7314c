// Arguments of `lpm lab set`: which directed link ("a->b", "a:b", or "a b") and what to change
// ("delay=20ms loss=5%"). Pure; the values are validated with the topology's link schema.
import { formatPath } from '../../src/config/loadYaml.js';
import { LINK_PROPERTY_KEYS, linkPropertiesPatchSchema, type LinkPropertiesPatch } from '../topology.js';

export interface SetRequest {
  from: string;
  to: string;
  /** As typed (e.g. { delay: "20ms" }): sent to the emulator, which logs what the user wrote. */
  raw: Record<string, string>;
  /** Parsed, in base units. */
  patch: LinkPropertiesPatch;
}

const ARROW = /^([^\s:>]+?)(?:->|:)([^\s:>]+)$/;

export function parseSetArgs(args: string[]): SetRequest {
  const words = [...args];
  let from: string | undefined;
  let to: string | undefined;
  const first = words.shift();
  if (first === undefined) throw new Error('missing link: give FROM->TO (quoted), FROM:TO, or FROM TO');
  const m = ARROW.exec(first);
  if (m) {
    from = m[1];
    to = m[2];
  } else if (!first.includes('=') && words[0] !== undefined && !words[0].includes('=')) {
    from = first;
    to = words.shift();
  } else {
    throw new Error(`"${first}" is not a link: give FROM->TO (quoted), FROM:TO, or FROM TO`);
  }
  if (words.length === 0) throw new Error(`nothing to change: give e.g. delay=20ms (fields: ${LINK_PROPERTY_KEYS.join(', ')})`);
  const raw: Record<string, string> = {};
  for (const w of words) {
    const eq = w.indexOf('=');
    if (eq <= 0) throw new Error(`"${w}" is not KEY=VALUE (fields: ${LINK_PROPERTY_KEYS.join(', ')})`);
    const key = w.slice(0, eq);
    if (!(LINK_PROPERTY_KEYS as readonly string[]).includes(key))
      throw new Error(`unknown field "${key}" (fields: ${LINK_PROPERTY_KEYS.join(', ')})`);
    if (key in raw) throw new Error(`field "${key}" given twice`);
    raw[key] = w.slice(eq + 1);
  }
  const parsed = linkPropertiesPatchSchema.safeParse(raw);
  if (!parsed.success)
    throw new Error(parsed.error.issues.map((i) => `${formatPath(i.path)}: ${i.message}`).join('; '));
  return { from: from!, to: to!, raw, patch: parsed.data };
}
