import type { Tx } from "../platform/db/database.ts";
import type { OwnEffects } from "./messages.ts";

/** An outbox row as the dispatcher reads it. */
export interface OutboxRow {
  id: number;
  user_id: string;
  topic: string;
  payload: {
    eventId: string;
    type: string;
    occurredAt: string;
    parentId?: string | null;
    data?: Record<string, unknown>;
    effects?: Partial<OwnEffects>;
    boards?: { boardId: string; periodKey: string }[];
  };
  attempts: number;
  next_attempt_at: Date | null;
  created_at: Date;
}

/**
 * Players whose next row (their first pending, non-dead row) is due now, the longest-waiting first.
 * A player whose first row waits for its retry is not picked, even when later rows are due: they
 * wait behind it, and picking the player would only read rows it cannot dispatch.
 */
export async function playersWithWork(tx: Tx, now: Date, limit: number): Promise<string[]> {
  const rows = await tx.rows<{ user_id: string }>(
    `SELECT user_id FROM (
       SELECT DISTINCT ON (user_id) user_id, id, next_attempt_at FROM outbox
       WHERE dispatched_at IS NULL AND dead_at IS NULL
       ORDER BY user_id, id
     ) AS first
     WHERE next_attempt_at IS NULL OR next_attempt_at <= $1
     ORDER BY id LIMIT $2`,
    [now, limit],
  );
  return rows.map((r) => r.user_id);
}

/**
 * Takes the player's dispatch lock for this transaction, if no other worker holds it. One worker
 * at a time per player is what keeps a player's rows in order.
 */
export async function tryLockPlayer(tx: Tx, userId: string): Promise<boolean> {
  const row = await tx.one<{ locked: boolean }>(
    `SELECT pg_try_advisory_xact_lock(1969, hashtext($1::text)) AS locked`,
    [userId],
  );
  return row.locked;
}

/** The player's undispatched rows, oldest first. */
export function pendingRows(tx: Tx, userId: string, limit: number): Promise<OutboxRow[]> {
  return tx.rows<OutboxRow>(
    `SELECT id, user_id, topic, payload, attempts, next_attempt_at, created_at FROM outbox
     WHERE user_id = $1 AND dispatched_at IS NULL AND dead_at IS NULL
     ORDER BY id LIMIT $2`,
    [userId, limit],
  );
}

export async function markDispatched(tx: Tx, ids: number[], now: Date): Promise<void> {
  await tx.exec(`UPDATE outbox SET dispatched_at = $2 WHERE id = ANY($1::bigint[])`, [ids, now]);
}

/** A failed try: retried at `retryAt`, or a dead letter when `retryAt` is null. */
export async function markFailed(
  tx: Tx,
  id: number,
  error: string,
  now: Date,
  retryAt: Date | null,
): Promise<void> {
  await tx.exec(
    `UPDATE outbox SET attempts = attempts + 1, last_error = $2, next_attempt_at = $3,
       dead_at = CASE WHEN $3::timestamptz IS NULL THEN $4::timestamptz END
     WHERE id = $1`,
    [id, error, retryAt, now],
  );
}

/** Tells every instance's stream listeners that the player has new messages up to `lastId`. */
export async function announce(tx: Tx, userId: string, lastId: number): Promise<void> {
  await tx.exec(`SELECT pg_notify('ludus_stream', $1)`, [JSON.stringify({ userId, lastId })]);
}

export interface DeadLetterRow {
  id: number;
  user_id: string;
  topic: string;
  payload: OutboxRow["payload"];
  attempts: number;
  last_error: string | null;
  dead_at: Date;
  created_at: Date;
}

export function deadLetters(tx: Tx, afterId: number | null, limit: number): Promise<DeadLetterRow[]> {
  return tx.rows<DeadLetterRow>(
    `SELECT id, user_id, topic, payload, attempts, last_error, dead_at, created_at FROM outbox
     WHERE dead_at IS NOT NULL AND ($1::bigint IS NULL OR id > $1) ORDER BY id LIMIT $2`,
    [afterId, limit],
  );
}

/** Puts dead letters back in their players' queues, to be tried again now. Returns the ids requeued. */
export async function requeueDead(tx: Tx, ids: number[], now: Date): Promise<number[]> {
  const rows = await tx.rows<{ id: number }>(
    `UPDATE outbox SET dead_at = NULL, attempts = 0, next_attempt_at = $2, last_error = NULL
     WHERE id = ANY($1::bigint[]) AND dead_at IS NOT NULL RETURNING id`,
    [ids, now],
  );
  return rows.map((r) => r.id);
}

/** Forgets dispatched rows older than `before` (the stream can no longer resume from them). */
export function purgeDispatched(tx: Tx, before: Date, limit: number): Promise<number> {
  return tx.exec(
    `DELETE FROM outbox WHERE id IN (
       SELECT id FROM outbox WHERE dispatched_at IS NOT NULL AND dispatched_at < $1 ORDER BY id LIMIT $2)`,
    [before, limit],
  );
}
