import type { Tx } from "../platform/db/database.ts";

export interface EventRow {
  id: string;
  type: string;
  occurred_at: Date;
  received_at: Date;
  source: string;
  parent_id: string | null;
  client_ip: string | null;
  user_agent: string | null;
  data: Record<string, unknown>;
  result: Record<string, unknown>;
  cursor_at: string;
}

/** Erasure: the addresses and user agents a player's events came from are personal data. */
export async function scrubClientInfo(tx: Tx, userId: string): Promise<void> {
  await tx.exec(
    `UPDATE events SET client_ip = NULL, user_agent = NULL
     WHERE user_id = $1 AND (client_ip IS NOT NULL OR user_agent IS NOT NULL)`,
    [userId],
  );
}

/** A player's events, newest first, keyset-paginated on (received_at, id). */
export function listEvents(
  tx: Tx,
  userId: string,
  filter: { type?: string; before?: { at: string; id: string }; limit: number },
): Promise<EventRow[]> {
  return tx.rows<EventRow>(
    `SELECT id, type, occurred_at, received_at, source, parent_id, host(client_ip) AS client_ip, user_agent,
            data, result, received_at::text AS cursor_at
     FROM events
     WHERE user_id = $1 AND ($2::text IS NULL OR type = $2)
       AND ($3::timestamptz IS NULL OR (received_at, id) < ($3, $4::uuid))
     ORDER BY received_at DESC, id DESC LIMIT $5`,
    [userId, filter.type ?? null, filter.before?.at ?? null, filter.before?.id ?? null, filter.limit + 1],
  );
}
