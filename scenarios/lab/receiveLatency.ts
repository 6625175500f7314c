// Measures how long a datagram takes from the kernel to the emulator's JavaScript handler: the
// process's wake-up and event-loop latency, which on a virtual machine is 0.1-0.3 ms and would
// otherwise be added to every emulated link's delay. A worker thread sends a timestamped probe
// over loopback every `intervalMs`; the main thread notes when its handler sees it. The emulator
// dates each packet's arrival back by `estimate`: the median of the samples of the last 0.45 s
// (capped at 1 ms). The window is short because the latency depends on the load: wake-ups are
// slower on an idle machine (~0.4 ms here) than under traffic (~0.2 ms), and an estimate that
// lags makes a ping run after an idle spell read 0.3 ms under its RTT, or one after heavy traffic
// 0.4 ms over (a 2 s window, capped by a 20 s median, did both).
import dgram from 'node:dgram';
import { Worker } from 'node:worker_threads';

const WORKER = `
const dgram = require('node:dgram');
const { workerData } = require('node:worker_threads');
const s = dgram.createSocket('udp4');
s.connect(workerData.port, '127.0.0.1', () => {
  setInterval(() => {
    const b = Buffer.alloc(8);
    b.writeBigInt64LE(process.hrtime.bigint());
    s.send(b);
  }, workerData.intervalMs);
});
`;

export class ReceiveLatencyProbe {
  private readonly samples: number[] = [];
  private worker: Worker | undefined;
  private socket: dgram.Socket | undefined;
  /** Milliseconds to date arrivals back by (see above; 0 until the first sample). */
  estimate = 0;
  count = 0;

  constructor(
    private readonly window = 9,
    private readonly maxMs = 1,
  ) {}

  async start(intervalMs = 50): Promise<void> {
    const socket = dgram.createSocket('udp4');
    socket.on('message', (buf) => {
      if (buf.length !== 8) return;
      const ms = Number(process.hrtime.bigint() - buf.readBigInt64LE()) / 1e6;
      this.add(ms);
    });
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
    this.socket = socket;
    this.worker = new Worker(WORKER, { eval: true, workerData: { port: socket.address().port, intervalMs } });
    this.worker.unref();
  }

  /** Records one sample (ms); exposed for tests. */
  add(ms: number): void {
    if (!(ms >= 0)) return;
    this.count++;
    this.samples.push(ms);
    if (this.samples.length > this.window) this.samples.shift();
    this.estimate = Math.min(this.maxMs, median(this.samples));
  }

  async close(): Promise<void> {
    await this.worker?.terminate();
    this.socket?.close();
  }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1]!;
}
