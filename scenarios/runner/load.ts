// The lab workload's clients: `clients` closed loops calling the entry service as fast as it
// answers, for warmup + duration. Response times count only for requests started after warmup.
import { performance } from 'node:perf_hooks';
import { call, newAgent } from './service.js';

export interface LoadResult {
  latencies: number[];
  errors: number;
  firstError?: string;
}

export interface LoadOptions {
  url: string;
  clients: number;
  warmup: number;
  duration: number;
  request: number;
  response: number;
  /** Called when the measured window starts (read counters there). */
  onMeasureStart?: () => Promise<void>;
}

export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const agent = newAgent(o.clients);
  const result: LoadResult = { latencies: [], errors: 0 };
  const t0 = performance.now();
  const measureFrom = t0 + o.warmup * 1000;
  const end = measureFrom + o.duration * 1000;
  let measuring = false;
  const startWindow = (async () => {
    await new Promise((r) => setTimeout(r, o.warmup * 1000));
    await o.onMeasureStart?.();
    measuring = true;
  })();
  const worker = async () => {
    while (performance.now() < end) {
      const started = performance.now();
      const counted = measuring && started >= measureFrom;
      try {
        await call(agent, o.url, o.request, o.response, 30_000);
        if (counted) result.latencies.push((performance.now() - started) / 1000);
      } catch (err) {
        if (counted) {
          result.errors++;
          result.firstError ??= (err as Error).message;
        }
        await new Promise((r) => setTimeout(r, 50)); // a refused connection must not spin
      }
    }
  };
  await Promise.all([startWindow, ...Array.from({ length: o.clients }, worker)]);
  agent.destroy();
  return result;
}
