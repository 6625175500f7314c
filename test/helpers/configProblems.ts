// The problems a config loader reports for a text it must reject.
import { expect } from 'vitest';
import { ConfigError } from '../../src/config/loadYaml.js';

/** Runs `parse`, which must throw a ConfigError, and returns its problems. */
export function configProblems(parse: () => unknown): string[] {
  try {
    parse();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected a ConfigError (the text to be rejected)');
}
