import type { Tx } from "../../platform/db/database.ts";

export interface EndpointRow {
  id: string;
  url: string;
  description: string;
  event_types: string[];
  enabled: boolean;
  consecutive_failures: number;
  disabled_at: Date | null;
  disabled_reason: string | null;
  created_at: Date;
  updated_at: Date;
}

// The secret is read only where a delivery is signed; no listing selects it.
const ENDPOINT_COLUMNS = `id, url, description, event_types, enabled, consecutive_failures, disabled_at,
  disabled_reason, created_at, updated_at`;

export function listEndpoints(tx: Tx): Promise<EndpointRow[]> {
  return tx.rows<EndpointRow>(`SELECT ${ENDPOINT_COLUMNS} FROM webhook_endpoints ORDER BY created_at, id`);
}

export function findEndpoint(tx: Tx, id: string, lock = false): Promise<EndpointRow | undefined> {
  return tx.maybeOne<EndpointRow>(
    `SELECT ${ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = $1${lock ? " FOR UPDATE" : ""}`,
    [id],
  );
}

export function enabledEndpoints(tx: Tx): Promise<{ id: string; event_types: string[] }[]> {
  return tx.rows(`SELECT id, event_types FROM webhook_endpoints WHERE enabled ORDER BY id`);
}

export function insertEndpoint(
  tx: Tx,
  e: { url: string; description: string; eventTypes: string[]; secret: string; enabled: boolean; now: Date },
): Promise<EndpointRow> {
  return tx.one<EndpointRow>(
    `INSERT INTO webhook_endpoints (url, description, event_types, secret, enabled, disabled_at, disabled_reason,
                                    created_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, CASE WHEN NOT $5 THEN $6::timestamptz END,
             CASE WHEN NOT $5 THEN 'disabled when created' END, $6, $6)
     RETURNING ${ENDPOINT_COLUMNS}`,
    [e.url, e.description, e.eventTypes, e.secret, e.enabled, e.now],
  );
}

export function updateEndpoint(
  tx: Tx,
  id: string,
  c: { url?: string; description?: string; eventTypes?: string[]; enabled?: boolean; now: Date },
): Promise<EndpointRow | undefined> {
  // Enabling (again) forgets the failures; disabling by hand records why.
  return tx.maybeOne<EndpointRow>(
    `UPDATE webhook_endpoints SET
       url = coalesce($2, url),
       description = coalesce($3, description),
       event_types = coalesce($4, event_types),
       enabled = coalesce($5, enabled),
       consecutive_failures = CASE WHEN $5 IS TRUE AND NOT enabled THEN 0 ELSE consecutive_failures END,
       disabled_at = CASE WHEN $5 IS TRUE THEN NULL WHEN $5 IS FALSE AND enabled THEN $6 ELSE disabled_at END,
       disabled_reason = CASE WHEN $5 IS TRUE THEN NULL WHEN $5 IS FALSE AND enabled THEN 'disabled by an admin'
                              ELSE disabled_reason END,
       updated_at = $6
     WHERE id = $1 RETURNING ${ENDPOINT_COLUMNS}`,
    [id, c.url ?? null, c.description ?? null, c.eventTypes ?? null, c.enabled ?? null, c.now],
  );
}

export async function setSecret(tx: Tx, id: string, secret: string, now: Date): Promise<boolean> {
  return (
    (await tx.exec(`UPDATE webhook_endpoints SET secret = $2, updated_at = $3 WHERE id = $1`, [
      id,
      secret,
      now,
    ])) > 0
  );
}

export async function deleteEndpoint(tx: Tx, id: string): Promise<EndpointRow | undefined> {
  return tx.maybeOne<EndpointRow>(
    `DELETE FROM webhook_endpoints WHERE id = $1 RETURNING ${ENDPOINT_COLUMNS}`,
    [id],
  );
}

/** Queues one event for the given endpoints; a redispatched row queues nothing twice. */
export async function insertDeliveries(
  tx: Tx,
  endpointIds: string[],
  d: { outboxId: number; userId: string; eventId: string; eventType: string; payload: unknown; now: Date },
): Promise<void> {
  await tx.exec(
    `INSERT INTO webhook_deliveries (endpoint_id, outbox_id, user_id, event_id, event_type, payload, next_attempt_at,
                                     created_at)
     SELECT e, $2, $3, $4, $5, $6, $7, $7 FROM unnest($1::uuid[]) AS e
     ON CONFLICT (endpoint_id, outbox_id) DO NOTHING`,
    [endpointIds, d.outboxId, d.userId, d.eventId, d.eventType, JSON.stringify(d.payload), d.now],
  );
}

export interface ClaimedDelivery {
  id: string;
  endpoint_id: string;
  url: string;
  secret: string;
  event_id: string;
  event_type: string;
  payload: unknown;
  attempts: number;
}

/**
 * Takes due deliveries for sending: pending ones whose time came and 'sending' ones whose sender
 * went away (lease expired); only the first open delivery of each (endpoint, player), of enabled
 * endpoints. Marks them 'sending' until `leaseUntil` and counts the attempt.
 */
export function claimDeliveries(
  tx: Tx,
  now: Date,
  leaseUntil: Date,
  limit: number,
): Promise<ClaimedDelivery[]> {
  return tx.rows<ClaimedDelivery>(
    `WITH due AS (
       SELECT d.id FROM webhook_deliveries d
       JOIN webhook_endpoints e ON e.id = d.endpoint_id AND e.enabled
       WHERE d.status IN ('pending', 'sending')
         AND CASE d.status WHEN 'pending' THEN d.next_attempt_at <= $1 ELSE d.locked_until <= $1 END
         AND NOT EXISTS (
           SELECT 1 FROM webhook_deliveries p
           WHERE p.endpoint_id = d.endpoint_id AND p.user_id = d.user_id AND p.status IN ('pending', 'sending')
             AND p.outbox_id < d.outbox_id)
       ORDER BY d.next_attempt_at, d.outbox_id
       LIMIT $3
       FOR UPDATE OF d SKIP LOCKED
     )
     UPDATE webhook_deliveries d SET status = 'sending', locked_until = $2, attempts = d.attempts + 1
     FROM due, webhook_endpoints e
     WHERE d.id = due.id AND e.id = d.endpoint_id
     RETURNING d.id, d.endpoint_id, e.url, e.secret, d.event_id, d.event_type, d.payload, d.attempts`,
    [now, leaseUntil, limit],
  );
}

export async function recordAttempt(
  tx: Tx,
  a: {
    deliveryId: string;
    attempt: number;
    at: Date;
    statusCode: number | null;
    durationMs: number;
    ok: boolean;
    error: string | null;
  },
): Promise<void> {
  await tx.exec(
    `INSERT INTO webhook_attempts (delivery_id, attempt, attempted_at, status_code, duration_ms, ok, error)
     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`,
    [a.deliveryId, a.attempt, a.at, a.statusCode, a.durationMs, a.ok, a.error],
  );
}

/** The outcome of a try: delivered, retried at `retryAt`, or dead (retryAt null). Only the lease holder may. */
export async function finishDelivery(
  tx: Tx,
  id: string,
  attempt: number,
  o: { ok: boolean; statusCode: number | null; error: string | null; now: Date; retryAt: Date | null },
): Promise<boolean> {
  const n = await tx.exec(
    `UPDATE webhook_deliveries SET
       status = CASE WHEN $2 THEN 'delivered' WHEN $6::timestamptz IS NULL THEN 'dead' ELSE 'pending' END,
       delivered_at = CASE WHEN $2 THEN $5::timestamptz ELSE delivered_at END,
       next_attempt_at = coalesce($6, next_attempt_at),
       last_status_code = $3, last_error = $4, locked_until = NULL
     WHERE id = $1 AND status = 'sending' AND attempts = $7`,
    [id, o.ok, o.statusCode, o.error, o.now, o.retryAt, attempt],
  );
  return n > 0;
}

/** Counts a failure (or resets the count on success); returns the endpoint's failures in a row. */
export async function countOutcome(
  tx: Tx,
  endpointId: string,
  ok: boolean,
): Promise<{ failures: number; enabled: boolean }> {
  return tx.one(
    `UPDATE webhook_endpoints SET consecutive_failures = CASE WHEN $2 THEN 0 ELSE consecutive_failures + 1 END
     WHERE id = $1 RETURNING consecutive_failures AS failures, enabled`,
    [endpointId, ok],
  );
}

export async function disableEndpoint(tx: Tx, id: string, reason: string, now: Date): Promise<void> {
  await tx.exec(
    `UPDATE webhook_endpoints SET enabled = false, disabled_at = $2, disabled_reason = $3, updated_at = $2
     WHERE id = $1 AND enabled`,
    [id, now, reason],
  );
}

export interface DeliveryRow {
  id: string;
  endpoint_id: string;
  outbox_id: number;
  user_id: string;
  event_id: string;
  event_type: string;
  status: "pending" | "sending" | "delivered" | "dead";
  attempts: number;
  next_attempt_at: Date;
  last_status_code: number | null;
  last_error: string | null;
  delivered_at: Date | null;
  created_at: Date;
  cursor_at: string;
  tries: {
    attempt: number;
    attemptedAt: string;
    statusCode: number | null;
    durationMs: number;
    ok: boolean;
    error: string | null;
  }[];
}

/** An endpoint's deliveries, newest first, each with its tries. */
export function listDeliveries(
  tx: Tx,
  endpointId: string,
  f: { status?: string; before?: { at: string; id: string }; limit: number },
): Promise<DeliveryRow[]> {
  return tx.rows<DeliveryRow>(
    `SELECT d.id, d.endpoint_id, d.outbox_id, d.user_id, d.event_id, d.event_type, d.status, d.attempts,
            d.next_attempt_at, d.last_status_code, d.last_error, d.delivered_at, d.created_at,
            d.created_at::text AS cursor_at,
            coalesce((SELECT json_agg(json_build_object('attempt', a.attempt, 'attemptedAt', a.attempted_at,
                        'statusCode', a.status_code, 'durationMs', a.duration_ms, 'ok', a.ok, 'error', a.error)
                        ORDER BY a.attempt)
                      FROM webhook_attempts a WHERE a.delivery_id = d.id), '[]') AS tries
     FROM webhook_deliveries d
     WHERE d.endpoint_id = $1 AND ($2::text IS NULL OR d.status = $2)
       AND ($3::timestamptz IS NULL OR (d.created_at, d.id) < ($3, $4::uuid))
     ORDER BY d.created_at DESC, d.id DESC LIMIT $5`,
    [endpointId, f.status ?? null, f.before?.at ?? null, f.before?.id ?? null, f.limit],
  );
}

/** Sends a delivery again (a manual replay): pending now, whatever its state, unless being sent. */
export function replayDelivery(tx: Tx, endpointId: string, id: string, now: Date) {
  return tx.maybeOne<{ status: string }>(
    `UPDATE webhook_deliveries SET
       status = CASE WHEN status = 'sending' THEN status ELSE 'pending' END,
       next_attempt_at = CASE WHEN status = 'sending' THEN next_attempt_at ELSE $3 END
     WHERE id = $2 AND endpoint_id = $1
     RETURNING (SELECT status FROM webhook_deliveries WHERE id = $2) AS status`,
    [endpointId, id, now],
  );
}
