import type { Tx } from "../platform/db/database.ts";

export interface AuditEntry {
  actorType: "user" | "api_key" | "system";
  actorId: string | null;
  subjectUserId: string | null;
  action: string;
  resourceType: string;
  resourceId: string | null;
  before?: unknown;
  after?: unknown;
  ip: string | null;
  userAgent: string | null;
  requestId: string | null;
}

export interface AuditRow {
  id: string;
  created_at: Date;
  actor_type: "user" | "api_key" | "system";
  actor_id: string | null;
  subject_user_id: string | null;
  action: string;
  resource_type: string;
  resource_id: string | null;
  before_data: unknown;
  after_data: unknown;
  ip: string | null;
  user_agent: string | null;
  request_id: string | null;
  cursor_at: string;
}

export async function insertAudit(tx: Tx, e: AuditEntry): Promise<void> {
  await tx.exec(
    `INSERT INTO audit_logs (actor_type, actor_id, subject_user_id, action, resource_type, resource_id,
       before_data, after_data, ip, user_agent, request_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
    [
      e.actorType,
      e.actorId,
      e.subjectUserId,
      e.action,
      e.resourceType,
      e.resourceId,
      e.before === undefined ? null : JSON.stringify(e.before),
      e.after === undefined ? null : JSON.stringify(e.after),
      e.ip,
      e.userAgent,
      e.requestId,
    ],
  );
}

export interface AuditFilter {
  actorId?: string;
  subjectUserId?: string;
  action?: string;
  resourceType?: string;
  resourceId?: string;
  before?: { at: string; id: string };
  limit: number;
}

/** Newest first, keyset-paginated on (created_at, id). */
export function listAudit(tx: Tx, f: AuditFilter): Promise<AuditRow[]> {
  return tx.rows<AuditRow>(
    `SELECT id, created_at, actor_type, actor_id, subject_user_id, action, resource_type, resource_id,
            before_data, after_data, host(ip) AS ip, user_agent, request_id, created_at::text AS cursor_at
     FROM audit_logs
     WHERE ($1::uuid IS NULL OR actor_id = $1)
       AND ($2::uuid IS NULL OR subject_user_id = $2)
       AND ($3::text IS NULL OR action = $3)
       AND ($4::text IS NULL OR resource_type = $4)
       AND ($5::text IS NULL OR resource_id = $5)
       AND ($6::timestamptz IS NULL OR (created_at, id) < ($6, $7::uuid))
     ORDER BY created_at DESC, id DESC
     LIMIT $8`,
    [
      f.actorId ?? null,
      f.subjectUserId ?? null,
      f.action ?? null,
      f.resourceType ?? null,
      f.resourceId ?? null,
      f.before?.at ?? null,
      f.before?.id ?? null,
      f.limit + 1,
    ],
  );
}

/**
 * GDPR erasure: the history stays (who did what, when), but the person's client addresses and
 * agents go, and so do the before/after snapshots of records about them (names, bios, emails).
 */
export function scrubAuditPersonalData(tx: Tx, userId: string): Promise<number> {
  return tx.exec(
    `UPDATE audit_logs SET ip = NULL, user_agent = NULL,
       before_data = CASE WHEN subject_user_id = $1 THEN NULL ELSE before_data END,
       after_data = CASE WHEN subject_user_id = $1 THEN NULL ELSE after_data END
     WHERE subject_user_id = $1 OR actor_id = $1`,
    [userId],
  );
}
