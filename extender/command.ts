// PLACEHOLDER: replaced by the real command implementation.
import type { CommandSpec } from '../src/cli/command.js';

export const extenderCommand: CommandSpec = {
  name: 'extender',
  summary: 'not built yet',
  usage: 'extender',
  flags: {},
  async run() {
    throw new Error('lpm extender is not built yet');
  },
};
