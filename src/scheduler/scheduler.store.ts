import type { Tx } from "../platform/db/database.ts";

export interface JobRow {
  name: string;
  interval_ms: number;
  last_period_start: Date | null;
  next_run_at: Date;
  locked_until: Date | null;
  locked_by: string | null;
  last_started_at: Date | null;
  last_finished_at: Date | null;
  last_result: Record<string, unknown> | null;
  last_error: string | null;
  runs: number;
  failures: number;
}

/** Adds jobs not known yet (due at once) and takes the current interval of every job. */
export async function ensureJobs(tx: Tx, jobs: { name: string; intervalMs: number }[], now: Date) {
  await tx.exec(
    `INSERT INTO scheduled_jobs (name, interval_ms, next_run_at)
     SELECT * , $3::timestamptz FROM unnest($1::text[], $2::bigint[])
     ON CONFLICT (name) DO UPDATE SET interval_ms = EXCLUDED.interval_ms
       WHERE scheduled_jobs.interval_ms <> EXCLUDED.interval_ms`,
    [jobs.map((j) => j.name), jobs.map((j) => j.intervalMs), now],
  );
}

/**
 * Claims one due job among `names` for `owner` until `leaseUntil`: a job no one holds (or whose
 * holder's lease ran out). Concurrent claimers skip the row another is claiming.
 */
export function claimDue(
  tx: Tx,
  names: string[],
  now: Date,
  leaseUntil: Date,
  owner: string,
): Promise<JobRow | undefined> {
  return tx.maybeOne<JobRow>(
    `UPDATE scheduled_jobs SET locked_until = $3, locked_by = $4, last_started_at = $2
     WHERE name = (
       SELECT name FROM scheduled_jobs
       WHERE name = ANY($1::text[]) AND next_run_at <= $2 AND (locked_until IS NULL OR locked_until <= $2)
       ORDER BY next_run_at, name LIMIT 1 FOR UPDATE SKIP LOCKED)
     RETURNING *`,
    [names, now, leaseUntil, owner],
  );
}

/** Records a finished run (if this owner still holds the job) and when the next is due. */
export async function finish(
  tx: Tx,
  name: string,
  owner: string,
  outcome: {
    now: Date;
    periodStart: Date | null;
    nextRunAt: Date;
    result: Record<string, unknown> | null;
    error: string | null;
  },
): Promise<void> {
  await tx.exec(
    `UPDATE scheduled_jobs SET
       last_period_start = coalesce($3, last_period_start), next_run_at = $4, locked_until = NULL,
       locked_by = NULL, last_finished_at = $5, last_result = coalesce($6, last_result), last_error = $7,
       runs = runs + 1, failures = CASE WHEN $7::text IS NULL THEN 0 ELSE failures + 1 END
     WHERE name = $1 AND locked_by = $2`,
    [
      name,
      owner,
      outcome.periodStart,
      outcome.nextRunAt,
      outcome.now,
      outcome.result === null ? null : JSON.stringify(outcome.result),
      outcome.error,
    ],
  );
}

export function listJobs(tx: Tx): Promise<JobRow[]> {
  return tx.rows<JobRow>(`SELECT * FROM scheduled_jobs ORDER BY name`);
}

/** Extends the lease of a job this owner still holds; false if it no longer holds it. */
export async function renew(tx: Tx, name: string, owner: string, leaseUntil: Date): Promise<boolean> {
  const row = await tx.maybeOne<{ name: string }>(
    `UPDATE scheduled_jobs SET locked_until = $3 WHERE name = $1 AND locked_by = $2 RETURNING name`,
    [name, owner, leaseUntil],
  );
  return row !== undefined;
}
