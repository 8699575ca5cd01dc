import type { Logger } from "pino";
import { isConnectionError } from "../platform/db/availability.ts";

/** While the database is unavailable, a loop waits this long after a failed tick, doubling... */
const OUTAGE_MIN_DELAY_MS = 250;
/** ...up to this, so that it resumes within seconds of the database coming back. */
const OUTAGE_MAX_DELAY_MS = 5000;

/** A background loop: `start` runs `tick` now and then again, `wake` runs it early, `stop` waits for it. */
export interface Loop {
  start(): void;
  /** Runs the next tick as soon as the current one (if any) ends. */
  wake(): void;
  stop(): Promise<void>;
}

/**
 * Repeats `tick` every `intervalMs`; at once again when a tick reports it did a full batch (more
 * work is likely waiting). Errors are logged and the loop goes on. Ticks never overlap. While the
 * database is unavailable, ticks back off (up to OUTAGE_MAX_DELAY_MS) and the outage is logged
 * once, by the database layer, not once per tick; the loop resumes by itself when it is back.
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
  /** Consecutive ticks that failed because the database was unavailable. */
  let outage = 0;

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
          if (outage > 0) logger.info({ loop: name }, "background loop resumed");
          outage = 0;
          if (more) wakeRequested = true;
        },
        (err: unknown) => {
          if (isConnectionError(err)) {
            if (outage === 0) logger.warn({ loop: name }, "background loop waiting for the database");
            outage += 1;
            wakeRequested = false;
          } else {
            logger.error({ err, loop: name }, "background loop tick failed");
          }
        },
      )
      .finally(() => {
        running = undefined;
        const backoff =
          outage > 0 ? Math.min(OUTAGE_MAX_DELAY_MS, OUTAGE_MIN_DELAY_MS * 2 ** (outage - 1)) : 0;
        schedule(wakeRequested ? 0 : Math.max(intervalMs, backoff));
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
