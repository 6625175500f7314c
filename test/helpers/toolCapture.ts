// Real tool runs captured between two network namespaces (test/fixtures/tools, see its README).
import { readFileSync } from 'node:fs';

export interface ToolCapture {
  argv: string[];
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** test/fixtures/tools/NAME.json. */
export const toolCapture = (name: string): ToolCapture =>
  JSON.parse(readFileSync(new URL(`../fixtures/tools/${name}.json`, import.meta.url), 'utf8')) as ToolCapture;
