// Version reported by `lpm --version` and the lpm_build_info metric; kept in step with package.json.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

function readVersion(): string {
  // Works from src/ (vitest) and from dist/src/ (built CLI): walk up to the package.json.
  for (const rel of ['../package.json', '../../package.json']) {
    try {
      const pkg = require(rel) as { name?: string; version?: string };
      if (pkg.name === 'lpm' && pkg.version) return pkg.version;
    } catch {
      // try the next candidate
    }
  }
  return '0.0.0-unknown';
}

export const VERSION = readVersion();
