import type { Tx } from "../platform/db/database.ts";
import { insertAudit, type AuditEntry } from "./audit.store.ts";

/** Where a request came from, for the audit trail. */
export interface RequestMeta {
  ip: string | null;
  userAgent: string | null;
  requestId: string | null;
}

/** Who acts: a signed-in user, an app backend's API key, or Ludus itself. */
export type AuditActor = { type: "user"; id: string } | { type: "api_key"; id: string } | { type: "system" };

export const SYSTEM_META: RequestMeta = { ip: null, userAgent: null, requestId: null };

/** Records one audited action inside the caller's transaction, so it commits or rolls back with it. */
export function audit(
  tx: Tx,
  actor: AuditActor,
  meta: RequestMeta,
  entry: Pick<AuditEntry, "action" | "resourceType" | "resourceId" | "before" | "after"> & {
    subjectUserId?: string | null;
  },
): Promise<void> {
  const actorId = actor.type === "system" ? null : actor.id;
  return insertAudit(tx, {
    actorType: actor.type,
    actorId,
    // An explicit null means the action is about no one (a definition); absent means the actor.
    subjectUserId:
      entry.subjectUserId !== undefined ? entry.subjectUserId : actor.type === "user" ? actor.id : null,
    action: entry.action,
    resourceType: entry.resourceType,
    resourceId: entry.resourceId,
    before: entry.before,
    after: entry.after,
    ip: meta.ip,
    userAgent: meta.userAgent?.slice(0, 512) ?? null,
    requestId: meta.requestId,
  });
}
