import type { Logger } from "pino";

/** A background loop: `start` runs `tick` now and then again, `wake` runs it early, `stop` waits for it. */
export interface Loop {
  start(): void;
  /** Runs the next tick as soon as the current one (if any) ends. */
  wake(): void;
  stop(): Promise<void>;
}

/**
 * Repeats `tick` every `intervalMs`; at once again when a tick reports it did a full batch (more
 * work is likely waiting). Errors are logged and the loop goes on. Ticks never overlap.
 */
export function createLoop(
  name: string,
  intervalMs: number,
  tick: () => Promise<{ more: boolean }>,
  logger: Logger,
): Loop {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = true;
  let wakeRequested = false;

  const schedule = (ms: number) => {
    if (stopped) return;
    clearTimeout(timer);
    timer = setTimeout(run, ms);
    timer.unref();
  };
  function run(): void {
    if (stopped || running !== undefined) {
      wakeRequested = true;
      return;
    }
    wakeRequested = false;
    running = tick()
      .then(
        ({ more }) => {
          if (more) wakeRequested = true;
        },
        (err: unknown) => logger.error({ err, loop: name }, "background loop tick failed"),
      )
      .finally(() => {
        running = undefined;
        schedule(wakeRequested ? 0 : intervalMs);
      });
  }
  return {
    start() {
      if (!stopped) return;
      stopped = false;
      schedule(0);
    },
    wake() {
      if (running !== undefined) wakeRequested = true;
      else schedule(0);
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
