import type { Tx } from "../platform/db/database.ts";

export type LedgerType = "earn" | "spend" | "reward" | "bonus" | "purchase" | "adjust" | "refund";

export interface LedgerWrite {
  userId: string;
  currency: string;
  /** Positive credits, negative debits; never zero. */
  amount: number;
  type: LedgerType;
  reason: string;
  source: string;
  reference?: string | null;
  metadata?: Record<string, unknown> | null;
}

export interface Posted {
  entryId: number;
  balance: number;
  lifetimeEarned: number;
}

/**
 * Credits a wallet (creating it on first use) and writes its ledger entry in one statement. The
 * wallet row is locked by the upsert until the transaction ends, so the entry's balance_after is
 * the running sum. Returns undefined if the currency does not exist.
 */
export async function credit(tx: Tx, w: LedgerWrite): Promise<Posted | undefined> {
  return tx.maybeOne<Posted>(
    `WITH c AS (SELECT allow_negative FROM currencies WHERE code = $2),
     w AS (
       INSERT INTO wallets (user_id, currency, balance, lifetime_earned, allow_negative)
       SELECT $1, $2, $3, $3, c.allow_negative FROM c
       ON CONFLICT (user_id, currency) DO UPDATE SET
         balance = wallets.balance + EXCLUDED.balance,
         lifetime_earned = wallets.lifetime_earned + EXCLUDED.lifetime_earned,
         updated_at = now()
       RETURNING balance, lifetime_earned
     )
     INSERT INTO ledger_entries (user_id, currency, type, amount, balance_after, reason, source, reference, metadata)
     SELECT $1, $2, $4, $3, w.balance, $5, $6, $7, $8 FROM w
     RETURNING id AS "entryId", balance_after AS balance, (SELECT lifetime_earned FROM w) AS "lifetimeEarned"`,
    [w.userId, w.currency, w.amount, w.type, w.reason, w.source, w.reference ?? null, w.metadata ?? null],
  );
}

export interface Credit {
  currency: string;
  amount: number;
  reason: string;
  source: string;
  metadata?: Record<string, unknown> | null;
}

/**
 * Credits several wallets of one player at once (an event's awards): one statement for all the
 * wallet upserts and ledger entries. Entries are written in the order given, and the balance_after
 * of each is the running sum: the wallet's new balance less the amounts of that currency after it.
 * Returns each credit's balance after it, in order. Every currency must exist.
 */
export async function creditMany(
  tx: Tx,
  userId: string,
  type: LedgerType,
  reference: string | null,
  credits: Credit[],
): Promise<number[]> {
  if (credits.length === 0) return [];
  const balances = await tx.rows<{ currency: string; balance: number }>(
    `WITH input AS (
       SELECT * FROM unnest($3::text[], $4::bigint[], $5::text[], $6::text[], $7::jsonb[])
         WITH ORDINALITY AS i(currency, amount, reason, source, metadata, ord)
     ),
     totals AS (SELECT currency, sum(amount)::bigint AS amount FROM input GROUP BY currency),
     w AS (
       INSERT INTO wallets (user_id, currency, balance, lifetime_earned, allow_negative)
       SELECT $1, t.currency, t.amount, t.amount, c.allow_negative
       FROM totals t JOIN currencies c ON c.code = t.currency
       ORDER BY t.currency
       ON CONFLICT (user_id, currency) DO UPDATE SET
         balance = wallets.balance + EXCLUDED.balance,
         lifetime_earned = wallets.lifetime_earned + EXCLUDED.lifetime_earned,
         updated_at = now()
       RETURNING currency, balance
     ),
     e AS (
       -- Ids are drawn in this ORDER BY, so replaying a wallet's entries by id gives the running sums.
       INSERT INTO ledger_entries (user_id, currency, type, amount, balance_after, reason, source, reference, metadata)
       SELECT $1, i.currency, $2, i.amount,
              w.balance - coalesce(sum(i.amount) OVER (
                PARTITION BY i.currency ORDER BY i.ord ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING), 0),
              i.reason, i.source, $8, i.metadata
       FROM input i JOIN w USING (currency)
       ORDER BY i.ord
     )
     SELECT currency, balance FROM w`,
    [
      userId,
      type,
      credits.map((c) => c.currency),
      credits.map((c) => c.amount),
      credits.map((c) => c.reason),
      credits.map((c) => c.source),
      credits.map((c) =>
        c.metadata === undefined || c.metadata === null ? null : JSON.stringify(c.metadata),
      ),
      reference,
    ],
  );
  const after = new Map(balances.map((b) => [b.currency, b.balance]));
  // Walk backwards: each credit's balance is the final balance less what came after it.
  const result = new Array<number>(credits.length);
  for (let i = credits.length - 1; i >= 0; i--) {
    const c = credits[i]!;
    const balance = after.get(c.currency);
    if (balance === undefined) throw new Error(`credit to unknown currency ${c.currency}`);
    result[i] = balance;
    after.set(c.currency, balance - c.amount);
  }
  return result;
}

/**
 * Debits a wallet unless that would take a non-negative currency below zero. Returns undefined when
 * the funds are insufficient (or the wallet does not exist): nothing is written then.
 */
export async function debit(tx: Tx, w: LedgerWrite): Promise<Posted | undefined> {
  const wallet = await tx.maybeOne<{ balance: number; lifetime_earned: number }>(
    `UPDATE wallets SET balance = balance + $3, updated_at = now()
     WHERE user_id = $1 AND currency = $2 AND (allow_negative OR balance + $3 >= 0)
     RETURNING balance, lifetime_earned`,
    [w.userId, w.currency, w.amount],
  );
  if (wallet === undefined) return undefined;
  const entry = await tx.one<{ id: number }>(
    `INSERT INTO ledger_entries (user_id, currency, type, amount, balance_after, reason, source, reference, metadata)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
    [
      w.userId,
      w.currency,
      w.type,
      w.amount,
      wallet.balance,
      w.reason,
      w.source,
      w.reference ?? null,
      w.metadata ?? null,
    ],
  );
  return { entryId: entry.id, balance: wallet.balance, lifetimeEarned: wallet.lifetime_earned };
}

export interface WalletRow {
  currency: string;
  balance: number;
  lifetime_earned: number;
  updated_at: Date;
}

export function listWallets(tx: Tx, userId: string): Promise<WalletRow[]> {
  return tx.rows<WalletRow>(
    `SELECT currency, balance, lifetime_earned, updated_at FROM wallets WHERE user_id = $1 ORDER BY currency`,
    [userId],
  );
}

export interface LedgerRow {
  id: number;
  created_at: Date;
  currency: string;
  type: LedgerType;
  amount: number;
  balance_after: number;
  reason: string;
  source: string;
  reference: string | null;
  metadata: Record<string, unknown> | null;
}

/** Newest first, keyset-paginated on id. */
export function listLedger(
  tx: Tx,
  userId: string,
  filter: { currency?: string; beforeId?: number; limit: number },
): Promise<LedgerRow[]> {
  return tx.rows<LedgerRow>(
    `SELECT id, created_at, currency, type, amount, balance_after, reason, source, reference, metadata
     FROM ledger_entries
     WHERE user_id = $1 AND ($2::text IS NULL OR currency = $2) AND ($3::bigint IS NULL OR id < $3)
     ORDER BY id DESC LIMIT $4`,
    [userId, filter.currency ?? null, filter.beforeId ?? null, filter.limit + 1],
  );
}

export interface LedgerDiscrepancy {
  user_id: string;
  currency: string;
  problem: string;
  detail: string;
}

/**
 * Checks every wallet against its ledger: the balance equals the sum of the entries, and each
 * entry's balance_after is the running sum up to it. Returns what is wrong (empty when all is well).
 */
export function findLedgerDiscrepancies(
  tx: Tx,
  userIds: string[] | null = null,
): Promise<LedgerDiscrepancy[]> {
  return tx.rows<LedgerDiscrepancy>(
    `WITH running AS (
       SELECT user_id, currency, id, balance_after,
              sum(amount) OVER (PARTITION BY user_id, currency ORDER BY id) AS expected
       FROM ledger_entries WHERE $1::uuid[] IS NULL OR user_id = ANY($1)
     ),
     totals AS (
       SELECT user_id, currency, sum(amount) AS total FROM ledger_entries
       WHERE $1::uuid[] IS NULL OR user_id = ANY($1) GROUP BY user_id, currency
     )
     SELECT user_id, currency, 'running_sum' AS problem,
            format('entry %s has balance_after %s, running sum %s', id, balance_after, expected) AS detail
     FROM running WHERE balance_after <> expected
     UNION ALL
     SELECT w.user_id, w.currency, 'balance' AS problem,
            format('wallet balance %s, ledger sum %s', w.balance, coalesce(t.total, 0)) AS detail
     FROM wallets w LEFT JOIN totals t USING (user_id, currency)
     WHERE ($1::uuid[] IS NULL OR w.user_id = ANY($1)) AND w.balance <> coalesce(t.total, 0)
     UNION ALL
     SELECT t.user_id, t.currency, 'missing_wallet', format('ledger sum %s with no wallet', t.total)
     FROM totals t LEFT JOIN wallets w USING (user_id, currency) WHERE w.user_id IS NULL
     ORDER BY 1, 2`,
    [userIds],
  );
}
