import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import { backoffMs, errorText } from "../delivery/backoff.ts";
import { createLoop, type Loop } from "../delivery/loop.ts";
import type { Clock } from "../platform/clock.ts";
import { isConnectionError } from "../platform/db/availability.ts";
import type { Database } from "../platform/db/database.ts";
import * as store from "./scheduler.store.ts";

/** What a run of a job is told: its period, and how many periods were missed before it. */
export interface JobRun {
  now: Date;
  /** The period this run is for: [periodStart, periodEnd), multiples of the interval since the epoch. */
  periodStart: Date;
  periodEnd: Date;
  /** The last period done before (null: the job never ran). */
  lastPeriodStart: Date | null;
  /** Periods that passed without a run (downtime); 0 in normal operation. */
  missed: number;
}

/** A recurring job. `run` must be idempotent: a run cut short (a crash) is run again. */
export interface JobSpec {
  name: string;
  intervalMs: number;
  run(run: JobRun): Promise<Record<string, unknown>>;
}

export interface SchedulerSettings {
  /** How often the scheduler looks for due jobs. */
  pollMs: number;
  /** How long a claimed job is held before another instance may take it over. */
  leaseMs: number;
  /** A failed run is tried again after this, doubling, at most the job's interval. */
  retryBaseMs: number;
}

export const SCHEDULER_DEFAULTS: SchedulerSettings = {
  pollMs: 5000,
  leaseMs: 15 * 60_000,
  retryBaseMs: 30_000,
};

/** The period of `intervalMs` containing `at`. */
export function periodOf(at: Date, intervalMs: number): { start: Date; end: Date } {
  const start = Math.floor(at.getTime() / intervalMs) * intervalMs;
  return { start: new Date(start), end: new Date(start + intervalMs) };
}

/**
 * A durable scheduler on the `scheduled_jobs` table: each job runs once per period across every
 * instance (claimed with SKIP LOCKED, leased by the injected clock), a failed run is retried with
 * backoff, and after downtime the next run is told how many periods it missed. Tests call
 * `runOnce()` while moving a ManualClock; the server calls `start()`.
 */
export class Scheduler {
  private readonly owner = `${process.pid}-${randomUUID().slice(0, 8)}`;
  private readonly jobs = new Map<string, JobSpec>();
  private ensured = false;
  private loop: Loop | undefined;
  /**
   * Runs whose end could not be recorded because the database was unavailable: recorded on the next
   * pass, so that the job is not held by its lease (minutes) after the database is back.
   */
  private readonly unrecorded = new Map<string, Parameters<typeof store.finish>[3]>();

  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly logger: Logger,
    jobs: JobSpec[],
    private readonly settings: SchedulerSettings = SCHEDULER_DEFAULTS,
  ) {
    for (const job of jobs) this.jobs.set(job.name, job);
  }

  /** Runs every due job once (each in turn). Returns what ran, with each job's result or error. */
  async runOnce(): Promise<{ name: string; result?: Record<string, unknown>; error?: string }[]> {
    const names = [...this.jobs.keys()];
    if (!this.ensured) {
      const jobs = [...this.jobs.values()];
      await this.db.asSystem((tx) => store.ensureJobs(tx, jobs, this.clock.now()));
      this.ensured = true;
    }
    for (const [name, outcome] of this.unrecorded) {
      await this.db.asSystem((tx) => store.finish(tx, name, this.owner, outcome));
      this.unrecorded.delete(name);
    }
    const ran: { name: string; result?: Record<string, unknown>; error?: string }[] = [];
    const done = new Set<string>();
    for (;;) {
      const now = this.clock.now();
      const leaseUntil = new Date(now.getTime() + this.settings.leaseMs);
      const pending = names.filter((n) => !done.has(n));
      if (pending.length === 0) break;
      const row = await this.db.asSystem((tx) => store.claimDue(tx, pending, now, leaseUntil, this.owner));
      if (row === undefined) break;
      done.add(row.name);
      ran.push(await this.runJob(this.jobs.get(row.name)!, row, now));
    }
    return ran;
  }

  private async runJob(job: JobSpec, row: store.JobRow, now: Date) {
    const period = periodOf(now, job.intervalMs);
    const last = row.last_period_start;
    const missed =
      last === null
        ? 0
        : Math.max(0, Math.round((period.start.getTime() - last.getTime()) / job.intervalMs) - 1);
    const started = performance.now();
    // A long run (quests for a large player base) keeps its lease, so that no other instance
    // takes the job over while it is still running.
    const renewal = setInterval(() => {
      const until = new Date(this.clock.now().getTime() + this.settings.leaseMs);
      this.db
        .asSystem((tx) => store.renew(tx, job.name, this.owner, until))
        .then(
          (held) => {
            if (!held) this.logger.warn({ job: job.name }, "scheduled job lost its lease while running");
          },
          (err: unknown) =>
            this.logger.error({ err, job: job.name }, "could not renew a scheduled job's lease"),
        );
    }, this.settings.leaseMs / 3);
    renewal.unref();
    try {
      const result = await job.run({
        now,
        periodStart: period.start,
        periodEnd: period.end,
        lastPeriodStart: last,
        missed,
      });
      await this.record(job.name, {
        now: this.clock.now(),
        periodStart: period.start,
        nextRunAt: period.end,
        result,
        error: null,
      });
      this.logger.info(
        { job: job.name, missed, ms: Math.round(performance.now() - started), ...result },
        "scheduled job done",
      );
      return { name: job.name, result };
    } catch (err) {
      // Already recorded as done, and only the recording failed: the database is unavailable.
      if (this.unrecorded.has(job.name)) throw err;
      const error = errorText(err);
      const wait = backoffMs(row.failures + 1, this.settings.retryBaseMs, Math.max(job.intervalMs, 1000));
      await this.record(job.name, {
        now: this.clock.now(),
        periodStart: null,
        nextRunAt: new Date(this.clock.now().getTime() + wait),
        result: null,
        error,
      });
      if (isConnectionError(err)) {
        this.logger.warn({ job: job.name, retryInMs: wait }, "scheduled job cut short: database unavailable");
      } else {
        this.logger.error({ err, job: job.name, retryInMs: wait }, "scheduled job failed");
      }
      return { name: job.name, error };
    } finally {
      clearInterval(renewal);
    }
  }

  /** Records the end of a run; kept for the next pass if the database is unavailable. */
  private async record(name: string, outcome: Parameters<typeof store.finish>[3]): Promise<void> {
    try {
      await this.db.asSystem((tx) => store.finish(tx, name, this.owner, outcome));
    } catch (err) {
      if (isConnectionError(err)) this.unrecorded.set(name, outcome);
      throw err;
    }
  }

  list() {
    return this.db.asSystem((tx) => store.listJobs(tx));
  }

  start(): void {
    if (this.loop !== undefined) return;
    this.loop = createLoop(
      "scheduler",
      this.settings.pollMs,
      async () => {
        await this.runOnce();
        return { more: false };
      },
      this.logger,
    );
    this.loop.start();
  }

  async stop(): Promise<void> {
    const loop = this.loop;
    this.loop = undefined;
    await loop?.stop();
  }
}
