import type { Definitions } from "../engine/definitions.ts";
import type { Database } from "../platform/db/database.ts";
import { LIMITS } from "../platform/limits.ts";
import { levelForXp } from "../progression/levels.ts";
import { findLedgerDiscrepancies, type LedgerDiscrepancy } from "./ledger.store.ts";
import { findShopDiscrepancies } from "./shop.store.ts";

export interface VerifyReport {
  players: number;
  problems: LedgerDiscrepancy[];
}

const BATCH = 500;

/**
 * Checks the books of every player, a batch at a time: each wallet equals the sum of its ledger,
 * each ledger entry's balance_after is the running sum, the stored level matches total XP, and
 * lifetime statistics equal the sum of their daily values, inventories hold what purchases bought
 * and each paid purchase has its ledger entry. Reports progress as it goes.
 */
export async function verifyBooks(
  db: Database,
  definitions: Definitions,
  onProgress: (done: number, total: number) => void = () => undefined,
): Promise<VerifyReport> {
  const { curve } = await definitions.snapshot();
  const { total } = await db.asSystem((tx) =>
    tx.one<{ total: number }>(`SELECT count(*)::int AS total FROM users`),
  );
  const problems: LedgerDiscrepancy[] = [];
  let after = "00000000-0000-0000-0000-000000000000";
  let done = 0;
  for (;;) {
    const ids = (
      await db.asSystem((tx) =>
        tx.rows<{ id: string }>(`SELECT id FROM users WHERE id > $1 ORDER BY id LIMIT $2`, [after, BATCH]),
      )
    ).map((r) => r.id);
    if (ids.length === 0) break;
    // One snapshot for the whole batch, so events committing meanwhile cannot look like errors.
    await db.asSystem(
      async (tx) => {
        problems.push(...(await findLedgerDiscrepancies(tx, ids)));
        const levels = await tx.rows<{ user_id: string; level: number; xp: number }>(
          `SELECT p.user_id, p.level, coalesce(w.balance, 0) AS xp
         FROM user_progress p LEFT JOIN wallets w ON w.user_id = p.user_id AND w.currency = 'xp'
         WHERE p.user_id = ANY($1::uuid[])`,
          [ids],
        );
        for (const l of levels) {
          const expected = levelForXp(curve, l.xp);
          // A stored level may lag behind a curve changed since the player's last event, never lead it.
          if (l.level > expected) {
            problems.push({
              user_id: l.user_id,
              currency: "xp",
              problem: "level",
              detail: `level ${l.level} with ${l.xp} XP (expected ${expected})`,
            });
          }
        }
        const stats = await tx.rows<LedgerDiscrepancy>(
          `SELECT t.user_id, t.stat AS currency, 'statistics' AS problem,
                format('lifetime %s, sum of days %s', t.value, coalesce(d.sum, 0)) AS detail
         FROM user_stats_totals t
         LEFT JOIN (SELECT user_id, stat, sum(value) AS sum FROM user_stats_daily WHERE user_id = ANY($1::uuid[]) GROUP BY 1, 2) d
           USING (user_id, stat)
         WHERE t.user_id = ANY($1::uuid[]) AND t.value <> coalesce(d.sum, 0)`,
          [ids],
        );
        problems.push(...stats);
        // Values past the ceilings: only rows written before their CHECK constraints (0015) can be.
        const ceiling = LIMITS.valueCeiling;
        const beyond = await tx.rows<LedgerDiscrepancy>(
          `SELECT user_id, currency, 'ceiling' AS problem,
                  format('balance %s, lifetime earned %s, beyond the ceiling of %s', balance, lifetime_earned, $2::bigint) AS detail
           FROM wallets WHERE user_id = ANY($1::uuid[]) AND (abs(balance) > $2 OR lifetime_earned > $2)
           UNION ALL
           SELECT user_id, stat, 'ceiling', format('counter %s beyond the ceiling of %s', value, $2::bigint)
           FROM user_stats_totals WHERE user_id = ANY($1::uuid[]) AND abs(value) > $2
           ORDER BY 1, 2`,
          [ids, ceiling],
        );
        problems.push(...beyond);
        problems.push(...(await findShopDiscrepancies(tx, ids)));
      },
      { repeatableRead: true },
    );
    done += ids.length;
    after = ids[ids.length - 1] ?? after;
    onProgress(done, total);
  }
  return { players: done, problems };
}
