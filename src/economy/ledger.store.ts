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
  /** Whether a credit counts as earned (lifetime_earned); refunds do not. Default true. */
  earned?: boolean;
}

export interface Posted {
  entryId: number;
  balance: number;
  lifetimeEarned: number;
}

/**
 * The ledger entry written after a wallet change `w` (a CTE returning the new balance), with the
 * parameters entryParams gives: $1–$8 the entry, $9 what the wallet statement needs besides.
 */
const ENTRY_AFTER_WALLET = `INSERT INTO ledger_entries (user_id, currency, type, amount, balance_after, reason, source, reference, metadata)
     SELECT $1, $2, $4, $3, w.balance, $5, $6, $7, $8 FROM w
     RETURNING id AS "entryId", balance_after AS balance, (SELECT lifetime_earned FROM w) AS "lifetimeEarned"`;

const entryParams = (w: LedgerWrite, flag: boolean) => [
  w.userId,
  w.currency,
  w.amount,
  w.type,
  w.reason,
  w.source,
  w.reference ?? null,
  w.metadata ?? null,
  flag,
];

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
       SELECT $1, $2, $3::bigint, CASE WHEN $9::boolean THEN $3::bigint ELSE 0 END, c.allow_negative FROM c
       ON CONFLICT (user_id, currency) DO UPDATE SET
         balance = wallets.balance + EXCLUDED.balance,
         lifetime_earned = wallets.lifetime_earned + EXCLUDED.lifetime_earned,
         updated_at = now()
       RETURNING balance, lifetime_earned
     )
     ${ENTRY_AFTER_WALLET}`,
    entryParams(w, w.earned ?? true),
  );
}

/**
 * Debits a wallet unless that would take a non-negative currency below zero (or, with `overdraft`
 * false, any currency: purchases never overdraw). Returns undefined when the funds are insufficient
 * (or the wallet does not exist): nothing is written then.
 */
export async function debit(
  tx: Tx,
  w: LedgerWrite,
  options: { overdraft?: boolean } = {},
): Promise<Posted | undefined> {
  // One statement: the wallet's update (which locks its row) and, only if it happened, the entry.
  return tx.maybeOne<Posted>(
    `WITH w AS (
       UPDATE wallets SET balance = balance + $3, updated_at = now()
       WHERE user_id = $1 AND currency = $2 AND ((allow_negative AND $9::boolean) OR balance + $3 >= 0)
       RETURNING balance, lifetime_earned
     )
     ${ENTRY_AFTER_WALLET}`,
    entryParams(w, options.overdraft ?? true),
  );
}

/** A player's balance of a currency (0 without a wallet). */
export async function balanceOf(tx: Tx, userId: string, currency: string): Promise<number> {
  const row = await tx.maybeOne<{ balance: number }>(
    `SELECT balance FROM wallets WHERE user_id = $1 AND currency = $2`,
    [userId, currency],
  );
  return row?.balance ?? 0;
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
  /** As text: shown as a string, and exact whatever it grows to. */
  id: string;
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
  filter: { currency?: string; beforeId?: string; limit: number },
): Promise<LedgerRow[]> {
  return tx.rows<LedgerRow>(
    `SELECT id::text AS id, created_at, currency, type, amount, balance_after, reason, source, reference, metadata
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
