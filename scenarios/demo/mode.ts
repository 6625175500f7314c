// Lab or sim: the lab needs root, network namespaces and the measurement tools; without them the
// demo says why and runs the same flow on the configured links (sim). Nothing is ever installed
// here: scripts/setup.sh (the README's demo command) does that, on purpose, up front.
import { execa } from 'execa';
import { netnsCapability } from '../lab/ip.js';

export type DemoMode = 'lab' | 'sim';

/** Tools the lab mode runs, with an argument that makes each print its version and exit 0. */
const LAB_TOOLS: Array<[string, string]> = [
  ['ip', '-V'],
  ['ping', '-V'],
  ['iperf3', '--version'],
  ['ethtool', '--version'],
];

export async function missingTools(): Promise<string[]> {
  const missing: string[] = [];
  for (const [tool, arg] of LAB_TOOLS) {
    const r = await execa(tool, [arg], { reject: false });
    if (r.exitCode !== 0) missing.push(tool);
  }
  return missing;
}

/** Why lab mode cannot run here, or undefined when it can. */
export async function labUnavailable(): Promise<string | undefined> {
  const missing = await missingTools();
  if (missing.length) return `missing ${missing.join(', ')} (install with: bash scripts/setup.sh)`;
  const cap = await netnsCapability();
  return cap.ok ? undefined : cap.reason;
}

/** The mode to run: the requested one (lab fails when unavailable), or lab when possible. */
export async function chooseMode(requested: DemoMode | undefined): Promise<{ mode: DemoMode; note?: string }> {
  if (requested === 'sim') return { mode: 'sim' };
  const why = await labUnavailable();
  if (!why) return { mode: 'lab' };
  if (requested === 'lab') throw new Error(`lab mode is not possible here: ${why}`);
  return { mode: 'sim', note: `No emulated overlay: ${why}. Running in sim mode instead: the extender serves the topology's configured links as if measured.` };
}
