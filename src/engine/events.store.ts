import type { Tx } from "../platform/db/database.ts";

export interface EventRow {
  id: string;
  type: string;
  occurred_at: Date;
  received_at: Date;
  source: string;
  parent_id: string | null;
  data: Record<string, unknown>;
  result: Record<string, unknown>;
  cursor_at: string;
}

/** A player's events, newest first, keyset-paginated on (received_at, id). */
export function listEvents(
  tx: Tx,
  userId: string,
  filter: { type?: string; before?: { at: string; id: string }; limit: number },
): Promise<EventRow[]> {
  return tx.rows<EventRow>(
    `SELECT id, type, occurred_at, received_at, source, parent_id, data, result, received_at::text AS cursor_at
     FROM events
     WHERE user_id = $1 AND ($2::text IS NULL OR type = $2)
       AND ($3::timestamptz IS NULL OR (received_at, id) < ($3, $4::uuid))
     ORDER BY received_at DESC, id DESC LIMIT $5`,
    [userId, filter.type ?? null, filter.before?.at ?? null, filter.before?.id ?? null, filter.limit + 1],
  );
}
