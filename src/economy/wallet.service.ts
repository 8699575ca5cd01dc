import { createHash } from "node:crypto";
import { audit, type AuditActor, type RequestMeta } from "../audit/audit.service.ts";
import type { Engine } from "../engine/apply.ts";
import type { Definitions } from "../engine/definitions.ts";
import type { Database } from "../platform/db/database.ts";
import { AppError } from "../platform/http/errors.ts";
import { levelForXp } from "../progression/levels.ts";
import { lockPlayer, setLevel } from "../progression/progress.store.ts";
import { credit, debit, listLedger, listWallets, type LedgerRow } from "./ledger.store.ts";

export interface Adjustment {
  currency: string;
  amount: number;
  reason: string;
  idempotencyKey: string;
}

export interface AdjustmentResult {
  entryId: number;
  currency: string;
  amount: number;
  balance: number;
  duplicate: boolean;
}

export const ledgerView = (e: LedgerRow) => ({
  id: e.id,
  createdAt: e.created_at.toISOString(),
  currency: e.currency,
  type: e.type,
  amount: e.amount,
  balanceAfter: e.balance_after,
  reason: e.reason,
  source: e.source,
  reference: e.reference,
  metadata: e.metadata,
});

/** Balances and their history, and operators' manual corrections (idempotent and audited). */
export class WalletService {
  constructor(
    private readonly db: Database,
    private readonly definitions: Definitions,
    private readonly engine: Engine,
  ) {}

  async wallets(userId: string) {
    const rows = await this.db.asUser(userId, (tx) => listWallets(tx, userId));
    return rows.map((w) => ({
      currency: w.currency,
      balance: w.balance,
      lifetimeEarned: w.lifetime_earned,
      updatedAt: w.updated_at.toISOString(),
    }));
  }

  async ledger(userId: string, filter: { currency?: string; cursor?: string; limit: number }) {
    const beforeId = filter.cursor === undefined ? undefined : decodeLedgerCursor(filter.cursor);
    const rows = await this.db.asUser(userId, (tx) => listLedger(tx, userId, { ...filter, beforeId }));
    const page = rows.slice(0, filter.limit);
    const last = page[page.length - 1];
    return {
      items: page.map(ledgerView),
      nextCursor:
        rows.length > filter.limit && last !== undefined
          ? Buffer.from(String(last.id)).toString("base64url")
          : null,
    };
  }

  async adjust(
    actor: AuditActor,
    meta: RequestMeta,
    userId: string,
    a: Adjustment,
  ): Promise<AdjustmentResult> {
    const snapshot = await this.definitions.snapshot();
    const scope = `admin:${actor.type === "system" ? "system" : actor.id}`;
    const hash = createHash("sha256")
      .update(JSON.stringify([a.currency, a.amount, a.reason]))
      .digest();
    return this.db.asUser(userId, async (tx) => {
      const player = await lockPlayer(tx, userId);
      if (!player.exists) throw new AppError("event.unknown_user", `No player ${userId}`);
      if (!snapshot.currencies.has(a.currency)) {
        throw new AppError("economy.unknown_currency", `Unknown currency ${a.currency}`);
      }
      const claimed = await tx.maybeOne(
        `INSERT INTO idempotency_keys (scope, user_id, key, request_hash, response) VALUES ($1, $2, $3, $4, 'null')
         ON CONFLICT DO NOTHING RETURNING 1`,
        [scope, userId, a.idempotencyKey, hash],
      );
      if (claimed === undefined) {
        const first = await tx.one<{ request_hash: Buffer; response: AdjustmentResult }>(
          `SELECT request_hash, response FROM idempotency_keys WHERE scope = $1 AND user_id = $2 AND key = $3`,
          [scope, userId, a.idempotencyKey],
        );
        if (!first.request_hash.equals(hash)) {
          throw new AppError(
            "idempotency.key_reused",
            "This idempotency key was used for a different adjustment",
          );
        }
        return { ...first.response, duplicate: true };
      }
      const write = {
        userId,
        currency: a.currency,
        amount: a.amount,
        type: "adjust" as const,
        reason: a.reason,
        source: `admin:${actor.type === "system" ? "system" : actor.id}`,
        reference: a.idempotencyKey,
      };
      const cap = snapshot.currencyCaps.get(a.currency);
      if (cap !== undefined && a.amount > 0) {
        const held = await tx.maybeOne<{ balance: number }>(
          `SELECT balance FROM wallets WHERE user_id = $1 AND currency = $2`,
          [userId, a.currency],
        );
        if ((held?.balance ?? 0) + a.amount > cap) {
          throw new AppError("economy.balance_cap", `A player may hold at most ${cap} ${a.currency}`);
        }
      }
      const posted = a.amount > 0 ? await credit(tx, write) : await debit(tx, write);
      if (posted === undefined) {
        throw new AppError("economy.insufficient_funds", `The ${a.currency} balance cannot go below zero`);
      }
      if (a.currency === "xp") {
        // Levels follow total XP; a correction can move them either way.
        const level = levelForXp(snapshot.curve, posted.balance);
        if (level !== player.level) await setLevel(tx, userId, level);
      }
      await this.engine.balanceChanged(tx, snapshot, userId, a.currency, posted.balance);
      const result: AdjustmentResult = {
        entryId: posted.entryId,
        currency: a.currency,
        amount: a.amount,
        balance: posted.balance,
        duplicate: false,
      };
      await tx.exec(
        `UPDATE idempotency_keys SET response = $4 WHERE scope = $1 AND user_id = $2 AND key = $3`,
        [scope, userId, a.idempotencyKey, result],
      );
      await audit(tx, actor, meta, {
        action: "wallet.adjusted",
        resourceType: "wallet",
        resourceId: `${userId}:${a.currency}`,
        subjectUserId: userId,
        after: { amount: a.amount, balance: posted.balance, reason: a.reason },
      });
      return result;
    });
  }
}

/** A ledger id (digits, within bigint) from a cursor, kept as text so that it stays exact. */
function decodeLedgerCursor(cursor: string): string {
  const id = Buffer.from(cursor, "base64url").toString("utf8");
  if (!/^[1-9][0-9]{0,18}$/.test(id) || BigInt(id) > 9223372036854775807n) {
    throw new AppError("validation.failed", "The cursor is not valid", {
      errors: [{ path: "querystring/cursor", message: "is not a cursor from this API" }],
    });
  }
  return id;
}
