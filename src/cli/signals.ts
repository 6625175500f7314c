// Stop signals of the long-running commands (`lpm agent`, `lpm extender`): the first SIGTERM or
// SIGINT starts a clean stop, and the process then exits 0 whatever happened before.
//
// The handlers stay installed until the process exits. execa, through signal-exit, adds its own
// listener for SIGTERM while a child runs, and when that listener finds itself the only one it
// re-raises the signal to let it kill the process. The agent used to remove its handler on the
// first SIGTERM; once an iperf3 server restart had re-added signal-exit's listener *after* ours,
// signal-exit ran second, saw itself alone and re-raised SIGTERM: exit 143 and no "agent stopped".
// A handler that is never removed keeps signal-exit from ever being alone. (Node's signal
// handlers do not keep the event loop alive, so a permanent one does not delay the exit.)
import type { Logger } from '../log.js';

export type StopSignal = 'SIGTERM' | 'SIGINT';

export interface StopSignalsOptions {
  log: Logger;
  /**
   * A second stop signal while stopping: by default the process exits at once, with code 0 (the
   * stop was asked for twice; what was still running is cut).
   */
  onRepeat?(signal: StopSignal): void;
  /** SIGHUP: the agent re-reads its config; without a handler it is logged and ignored. */
  onHangup?(): void;
}

export interface StopSignals {
  /** Resolves with the first stop signal (also one received before anyone awaited it). */
  readonly received: Promise<StopSignal>;
  /** Removes the handlers (tests; a command leaves them until the process exits). */
  dispose(): void;
}

/** Installs SIGTERM, SIGINT and SIGHUP handlers for a long-running command. */
export function installStopSignals(o: StopSignalsOptions): StopSignals {
  let first: StopSignal | undefined;
  let resolve!: (s: StopSignal) => void;
  const received = new Promise<StopSignal>((r) => (resolve = r));
  const onStop = (signal: StopSignal) => {
    if (first === undefined) {
      first = signal; // the command logs it when it starts stopping
      resolve(signal);
      return;
    }
    if (o.onRepeat) {
      o.onRepeat(signal);
      return;
    }
    o.log.warn({ signal, first }, 'second stop signal: exiting now');
    o.log.flush();
    process.exit(0);
  };
  const onTerm = () => onStop('SIGTERM');
  const onInt = () => onStop('SIGINT');
  const onHup = () => {
    if (o.onHangup) o.onHangup();
    else o.log.info('SIGHUP ignored (the config is read at start only: restart to apply a new one)');
  };
  process.on('SIGTERM', onTerm);
  process.on('SIGINT', onInt);
  process.on('SIGHUP', onHup);
  return {
    received,
    dispose: () => {
      process.off('SIGTERM', onTerm);
      process.off('SIGINT', onInt);
      process.off('SIGHUP', onHup);
    },
  };
}
