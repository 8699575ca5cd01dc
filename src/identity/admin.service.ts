import { audit, type AuditActor, type RequestMeta } from "../audit/audit.service.ts";
import { scrubAuditPersonalData } from "../audit/audit.store.ts";
import type { Clock } from "../platform/clock.ts";
import type { Database, Tx } from "../platform/db/database.ts";
import { AppError, notFound } from "../platform/http/errors.ts";
import { decodeCursor, toPage } from "../platform/http/pagination.ts";
import type { Eraser, StandingListener } from "./index.ts";
import { userView } from "./presenters.ts";
import * as sessions from "./sessions.store.ts";
import * as users from "./users.store.ts";

/**
 * Operator actions on other people's accounts. They run as system transactions (RLS sees all rows),
 * and every change writes an audit entry in the same transaction.
 */
export class AdminUsersService {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly standing: readonly StandingListener[] = [],
    private readonly erasers: readonly Eraser[] = [],
  ) {}

  async list(filter: { q?: string; role?: users.Role; active?: boolean; cursor?: string; limit: number }) {
    const after = decodeCursor(filter.cursor);
    const rows = await this.db.asSystem((tx) => users.listUsers(tx, { ...filter, after }));
    return toPage(rows, filter.limit, (u) => ({ at: u.cursor_at, id: u.id }), userView);
  }

  async get(id: string) {
    return userView(await this.db.asSystem((tx) => load(tx, id)));
  }

  async setRole(actor: AuditActor, meta: RequestMeta, id: string, role: users.Role) {
    if (actor.type === "user" && actor.id === id) {
      throw new AppError("user.cannot_change_own_role", "Admins cannot change their own role");
    }
    return this.change(actor, meta, id, "user.role_changed", async (tx, before) => {
      if (isActiveAdmin(before) && role !== "admin") await assertAnotherAdmin(tx);
      await users.updateUser(tx, id, { role });
    });
  }

  async setActive(actor: AuditActor, meta: RequestMeta, id: string, active: boolean) {
    return this.change(
      actor,
      meta,
      id,
      active ? "user.activated" : "user.deactivated",
      async (tx, before) => {
        if (!active && isActiveAdmin(before)) await assertAnotherAdmin(tx);
        await users.updateUser(tx, id, { isActive: active });
        if (!active) await sessions.revokeUserSessions(tx, id, null, this.clock.now(), "deactivated");
        // A deleted account stays off the boards even if its flag is switched back on.
        const listed = active && before.deleted_at === null;
        for (const listener of this.standing) await listener(tx, id, listed);
      },
    );
  }

  /** GDPR erasure: personal fields replaced, sessions ended, client data scrubbed from the audit log. */
  async erase(actor: AuditActor, meta: RequestMeta, id: string) {
    return this.change(actor, meta, id, "user.erased", async (tx, before) => {
      if (isActiveAdmin(before)) await assertAnotherAdmin(tx);
      const now = this.clock.now();
      await users.eraseUser(tx, id, now);
      await sessions.revokeUserSessions(tx, id, null, now, "erased");
      await tx.exec(`DELETE FROM refresh_tokens WHERE user_id = $1`, [id]);
      await scrubAuditPersonalData(tx, id);
      for (const eraser of this.erasers) await eraser(tx, id);
      for (const listener of this.standing) await listener(tx, id, false);
    });
  }

  private async change(
    actor: AuditActor,
    meta: RequestMeta,
    id: string,
    action: string,
    apply: (tx: Tx, before: users.UserRow) => Promise<void>,
  ) {
    return this.db.asSystem(async (tx) => {
      const before = await load(tx, id, true);
      await apply(tx, before);
      const after = await load(tx, id);
      await audit(tx, actor, meta, {
        action,
        resourceType: "user",
        resourceId: id,
        subjectUserId: id,
        // Erasure must not copy the personal data it removes into the audit log.
        before: action === "user.erased" ? { role: before.role } : summary(before),
        after: summary(after),
      });
      return userView(after);
    });
  }
}

async function load(tx: Tx, id: string, lock = false): Promise<users.UserRow> {
  if (lock) await tx.exec(`SELECT 1 FROM users WHERE id = $1 FOR UPDATE`, [id]);
  const user = await users.findUserById(tx, id);
  if (user === undefined) throw notFound("User");
  return user;
}

// Only an active admin counts toward "the last admin"; a deactivated one can be demoted or erased.
const isActiveAdmin = (u: users.UserRow) => u.role === "admin" && u.is_active && u.deleted_at === null;

async function assertAnotherAdmin(tx: Tx): Promise<void> {
  // Lock admin rows so two concurrent demotions cannot both pass this check.
  await tx.exec(`SELECT 1 FROM users WHERE role = 'admin' AND is_active FOR UPDATE`);
  const { count } = await users.countActiveAdmins(tx);
  if (count <= 1) throw new AppError("user.last_admin", "This is the last active admin");
}

function summary(u: users.UserRow) {
  return { role: u.role, isActive: u.is_active, deletedAt: u.deleted_at?.toISOString() ?? null };
}
