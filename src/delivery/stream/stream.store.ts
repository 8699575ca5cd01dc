import type { Tx } from "../../platform/db/database.ts";
import type { OutboxRow } from "../outbox.store.ts";

/** The player's dispatched rows after `afterId`, oldest first: what a stream sends next. */
export function dispatchedAfter(
  tx: Tx,
  userId: string,
  afterId: number,
  limit: number,
): Promise<OutboxRow[]> {
  return tx.rows<OutboxRow>(
    `SELECT id, user_id, topic, payload, attempts, next_attempt_at, created_at FROM outbox
     WHERE user_id = $1 AND id > $2 AND dispatched_at IS NOT NULL
     ORDER BY id LIMIT $3`,
    [userId, afterId, limit],
  );
}

/** The id of the player's last dispatched row (0 when none is kept): where a new stream starts. */
export async function head(tx: Tx, userId: string): Promise<number> {
  const row = await tx.one<{ id: number | null }>(
    `SELECT max(id) AS id FROM outbox WHERE user_id = $1 AND dispatched_at IS NOT NULL`,
    [userId],
  );
  return row.id ?? 0;
}

/** Whether the row a client resumes from is still kept (and is the player's). */
export async function isKept(tx: Tx, userId: string, id: number): Promise<boolean> {
  const row = await tx.maybeOne(`SELECT 1 FROM outbox WHERE user_id = $1 AND id = $2`, [userId, id]);
  return row !== undefined;
}

/** The last dispatched id of each of these players that has one (the heartbeat's catch-up poll). */
export function heads(tx: Tx, userIds: string[]): Promise<{ user_id: string; id: number }[]> {
  return tx.rows<{ user_id: string; id: number }>(
    `SELECT user_id, max(id) AS id FROM outbox
     WHERE user_id = ANY($1::uuid[]) AND dispatched_at IS NOT NULL GROUP BY user_id`,
    [userIds],
  );
}

/** Which of these sessions are still usable: not revoked, not expired, their account active. */
export function liveSessions(
  tx: Tx,
  sessionIds: string[],
  now: Date,
): Promise<{ id: string; user_id: string }[]> {
  return tx.rows<{ id: string; user_id: string }>(
    `SELECT s.id, s.user_id FROM sessions s JOIN users u ON u.id = s.user_id
     WHERE s.id = ANY($1::uuid[]) AND s.revoked_at IS NULL AND s.expires_at > $2
       AND u.is_active AND u.deleted_at IS NULL`,
    [sessionIds, now],
  );
}
