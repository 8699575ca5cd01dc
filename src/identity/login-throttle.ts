import type { Clock } from "../platform/clock.ts";
import type { Tx } from "../platform/db/database.ts";
import { AppError } from "../platform/http/errors.ts";

// Failures older than this are forgotten; a lockout doubles with each failure past the limit.
const WINDOW_MS = 15 * 60 * 1000;
const FIRST_LOCK_MS = 30 * 1000;
const MAX_LOCK_MS = 15 * 60 * 1000;

export interface ThrottleKey {
  key: string;
  maxFailures: number;
}

/**
 * Slows password guessing per account and per client address. Accounts that do not exist are
 * throttled by the login text exactly as real ones are, so lockouts reveal nothing.
 */
export class LoginThrottle {
  constructor(private readonly clock: Clock) {}

  /** Throws auth.too_many_attempts while any of the keys is locked. */
  async assertOpen(tx: Tx, keys: ThrottleKey[]): Promise<void> {
    const rows = await tx.rows<{ locked_until: Date | null }>(
      `SELECT locked_until FROM login_failures WHERE key = ANY($1) AND locked_until > $2`,
      [keys.map((k) => k.key), this.clock.now()],
    );
    const until = Math.max(0, ...rows.map((r) => r.locked_until?.getTime() ?? 0));
    if (until > 0) {
      throw new AppError("auth.too_many_attempts", "Too many failed logins; try again later", {
        retryAfterSeconds: (until - this.clock.now().getTime()) / 1000,
      });
    }
  }

  async recordFailure(tx: Tx, keys: ThrottleKey[]): Promise<void> {
    const now = this.clock.now();
    for (const { key, maxFailures } of keys) {
      const row = await tx.one<{ failures: number }>(
        `INSERT INTO login_failures (key, failures, last_failed_at) VALUES ($1, 1, $2)
         ON CONFLICT (key) DO UPDATE SET
           failures = CASE WHEN login_failures.last_failed_at < $3 THEN 1 ELSE login_failures.failures + 1 END,
           last_failed_at = $2
         RETURNING failures`,
        [key, now, new Date(now.getTime() - WINDOW_MS)],
      );
      if (row.failures >= maxFailures) {
        const lockMs = Math.min(MAX_LOCK_MS, FIRST_LOCK_MS * 2 ** (row.failures - maxFailures));
        await tx.exec(`UPDATE login_failures SET locked_until = $2 WHERE key = $1`, [
          key,
          new Date(now.getTime() + lockMs),
        ]);
      }
    }
  }

  async reset(tx: Tx, key: string): Promise<void> {
    await tx.exec(`DELETE FROM login_failures WHERE key = $1`, [key]);
  }
}
