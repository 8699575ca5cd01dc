import type { Clock } from "../platform/clock.ts";
import type { Tx } from "../platform/db/database.ts";

// Failures older than this are forgotten; a lockout doubles with each failure past the limit.
const WINDOW_MS = 15 * 60 * 1000;
const FIRST_LOCK_MS = 30 * 1000;
const MAX_LOCK_MS = 15 * 60 * 1000;

export interface ThrottleKey {
  key: string;
  maxFailures: number;
}

/** The answer to a reservation: which keys were locked (nothing was counted on those). */
export interface Reservation {
  /** Keys that refused the attempt, with the time their lock ends. */
  locked: { key: string; until: Date }[];
}

/**
 * Slows password guessing per account, per login spelling and per client address.
 *
 * Every attempt is counted *before* the password is checked: `reserve` records it as a failure
 * (locking the key once it reaches its limit) in one short transaction that takes the keys' row
 * locks in a fixed order, so however many attempts run at once, at most `maxFailures` of them get
 * past a key inside one window, and after a lock ends only one more at a time. A successful login
 * settles its reservation with `release` (one attempt given back) or `reset` (the key forgotten).
 * An attempt whose process dies before it settles stays counted as a failure, which errs on the
 * safe side and is forgotten with the window.
 */
export class LoginThrottle {
  constructor(private readonly clock: Clock) {}

  /**
   * Counts one attempt on each key that is open; keys already locked are returned and not counted.
   * The caller decides what a locked key means (and rolls the transaction back to count nothing).
   */
  async reserve(tx: Tx, keys: ThrottleKey[]): Promise<Reservation> {
    const now = this.clock.now();
    const windowStart = new Date(now.getTime() - WINDOW_MS);
    const sorted = [...keys].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const locked: Reservation["locked"] = [];
    for (const { key, maxFailures } of sorted) {
      type Row = { failures: number; last_failed_at: Date; locked_until: Date | null };
      let row: Row | undefined;
      // A settled key's row is deleted; one deleted while this waited for its lock is made again.
      for (let tries = 0; row === undefined; tries++) {
        if (tries === 5) throw new Error(`login_failures row for a key kept vanishing`);
        await tx.exec(
          `INSERT INTO login_failures (key, failures, last_failed_at) VALUES ($1, 0, $2)
           ON CONFLICT (key) DO NOTHING`,
          [key, now],
        );
        // The row lock makes concurrent reservations of one key take turns and see each other.
        row = await tx.maybeOne<Row>(
          `SELECT failures, last_failed_at, locked_until FROM login_failures WHERE key = $1 FOR UPDATE`,
          [key],
        );
      }
      if (row.locked_until !== null && row.locked_until > now) {
        locked.push({ key, until: row.locked_until });
        continue;
      }
      const failures = (row.last_failed_at < windowStart ? 0 : row.failures) + 1;
      const lockedUntil =
        failures >= maxFailures
          ? new Date(now.getTime() + Math.min(MAX_LOCK_MS, FIRST_LOCK_MS * 2 ** (failures - maxFailures)))
          : null;
      await tx.exec(
        `UPDATE login_failures SET failures = $2, last_failed_at = $3, locked_until = $4 WHERE key = $1`,
        [key, failures, now, lockedUntil],
      );
    }
    return { locked };
  }

  /**
   * Gives back one reserved attempt (a successful login from an address): the count goes down by
   * one, and a lock ends if the count is back under the limit.
   */
  async release(tx: Tx, { key, maxFailures }: ThrottleKey): Promise<void> {
    await tx.exec(
      `UPDATE login_failures SET
         failures = greatest(failures - 1, 0),
         locked_until = CASE WHEN failures - 1 < $2 THEN NULL ELSE locked_until END
       WHERE key = $1`,
      [key, maxFailures],
    );
    // Keys with nothing counted are not kept, so successful logins leave no rows behind.
    await tx.exec(`DELETE FROM login_failures WHERE key = $1 AND failures = 0 AND locked_until IS NULL`, [
      key,
    ]);
  }

  /** Forgets a key's failures and lock (a successful login to the account). */
  async reset(tx: Tx, key: string): Promise<void> {
    await tx.exec(`DELETE FROM login_failures WHERE key = $1`, [key]);
  }
}
