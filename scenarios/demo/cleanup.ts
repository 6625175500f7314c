// Undo steps of the demo, run newest first when it exits (normally, on an error, or on
// SIGINT/SIGTERM). Each step runs once even if cleanup is asked for twice; a failing step is
// reported and the others still run.
export class CleanupStack {
  private readonly steps: Array<{ what: string; undo: () => Promise<unknown> }> = [];
  private running: Promise<string[]> | undefined;

  push(what: string, undo: () => Promise<unknown>): void {
    this.steps.push({ what, undo });
  }

  /** Runs every step, newest first; resolves with the failures ("what: message"). */
  run(log: (line: string) => void = () => undefined): Promise<string[]> {
    this.running ??= (async () => {
      const failures: string[] = [];
      while (this.steps.length) {
        const s = this.steps.pop()!;
        log(`  ${s.what}`);
        try {
          await s.undo();
        } catch (err) {
          failures.push(`${s.what}: ${(err as Error).message}`);
        }
      }
      return failures;
    })();
    return this.running;
  }
}

/** An AbortSignal that fires on SIGINT or SIGTERM; `dispose` removes the handlers. */
export function signalAbort(): { signal: AbortSignal; dispose: () => void; received: () => string | undefined } {
  const ac = new AbortController();
  let got: string | undefined;
  const on = (sig: NodeJS.Signals) => () => {
    got ??= sig;
    ac.abort(new Error(`interrupted by ${sig}`));
  };
  const int = on('SIGINT');
  const term = on('SIGTERM');
  process.on('SIGINT', int);
  process.on('SIGTERM', term);
  return {
    signal: ac.signal,
    received: () => got,
    dispose: () => {
      process.off('SIGINT', int);
      process.off('SIGTERM', term);
    },
  };
}
