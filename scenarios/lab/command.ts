// PLACEHOLDER: replaced by the real command implementation.
import type { CommandSpec } from '../../src/cli/command.js';

export const labCommand: CommandSpec = {
  name: 'lab',
  summary: 'not built yet',
  usage: 'lab',
  flags: {},
  async run() {
    throw new Error('lpm lab is not built yet');
  },
};
