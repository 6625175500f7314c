// The bench's own entry point (`npm run bench`): a development tool, so the product CLI
// (`lpm`) does not import it and the image does not ship it.
import { runCommand } from '../src/cli/command.js';
import { benchCommand } from './command.js';

runCommand(benchCommand, process.argv.slice(2), 'npm run').then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exitCode = 1;
  },
);
