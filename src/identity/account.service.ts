import { audit, type RequestMeta } from "../audit/audit.service.ts";
import { listAudit } from "../audit/audit.store.ts";
import type { Clock } from "../platform/clock.ts";
import type { Database, Tx } from "../platform/db/database.ts";
import { AppError, notFound } from "../platform/http/errors.ts";
import type { StandingListener } from "./index.ts";
import { normaliseDisplayName } from "./display-names.ts";
import { passwordProblem, type PasswordHasher } from "./passwords.ts";
import { sessionView, userView, type UserView } from "./presenters.ts";
import * as sessions from "./sessions.store.ts";
import { isTimeZone } from "./time-zones.ts";
import * as users from "./users.store.ts";

export interface ProfileChanges {
  displayName?: string;
  username?: string;
  avatarUrl?: string | null;
  bio?: string | null;
  timeZone?: string;
  dayStartHour?: number;
  locale?: string;
}

/** A feature's part of a user's data export: a name and a function reading it in the user's transaction. */
export type Exporter = (tx: Tx, userId: string) => Promise<[string, unknown]>;

/** What a signed-in user does with their own account. Every query runs as that user under RLS. */
export class AccountService {
  private readonly exporters: Exporter[] = [];

  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly hasher: PasswordHasher,
    private readonly standing: readonly StandingListener[] = [],
  ) {
    this.registerExporter(async (tx, userId) => [
      "sessions",
      (
        await tx.rows<sessions.SessionRow>(`SELECT * FROM sessions WHERE user_id = $1 ORDER BY created_at`, [
          userId,
        ])
      ).map((s) => ({ ...sessionView(s, null), revokedAt: s.revoked_at?.toISOString() ?? null })),
    ]);
    this.registerExporter(async (tx, userId) => [
      "auditLog",
      (await listAudit(tx, { subjectUserId: userId, limit: 100000 })).map((a) => ({
        at: a.created_at.toISOString(),
        action: a.action,
        resourceType: a.resource_type,
        resourceId: a.resource_id,
        ip: a.ip,
        userAgent: a.user_agent,
      })),
    ]);
  }

  /** Features (progression, economy, …) add their tables to the GDPR export here. */
  registerExporter(exporter: Exporter): void {
    this.exporters.push(exporter);
  }

  async get(userId: string): Promise<UserView> {
    return this.db.asUser(userId, async (tx) => userView(await this.load(tx, userId)));
  }

  async update(userId: string, changes: ProfileChanges, meta: RequestMeta): Promise<UserView> {
    if (changes.timeZone !== undefined && !isTimeZone(changes.timeZone)) {
      throw new AppError("validation.failed", "Unknown time zone", {
        errors: [{ path: "body/timeZone", message: "is not an IANA time zone" }],
      });
    }
    const displayName =
      changes.displayName === undefined ? undefined : normaliseDisplayName(changes.displayName);
    if (changes.username !== undefined) {
      const username = changes.username;
      const taken = await this.db.asSystem((tx) =>
        users.emailOrUsernameTaken(tx, undefined, username, userId),
      );
      if (taken.username) throw new AppError("user.username_taken", "This username is taken");
    }
    return this.db.asUser(userId, async (tx) => {
      const before = await this.load(tx, userId);
      await users.updateUser(tx, userId, { displayName, username: changes.username });
      await users.updateProfile(tx, userId, changes);
      const after = await this.load(tx, userId);
      await audit(tx, { type: "user", id: userId }, meta, {
        action: "user.profile_updated",
        resourceType: "user",
        resourceId: userId,
        before: pick(userView(before), changes),
        after: pick(userView(after), changes),
      });
      return userView(after);
    });
  }

  async changePassword(
    userId: string,
    sessionId: string,
    current: string,
    next: string,
    meta: RequestMeta,
  ): Promise<{ revokedSessions: number }> {
    const user = await this.db.asUser(userId, (tx) => this.load(tx, userId));
    if (!(await this.hasher.verify(user.password_hash, current))) {
      throw new AppError("auth.wrong_password", "The current password is wrong");
    }
    const problem = passwordProblem(next, user);
    if (problem !== undefined) {
      throw new AppError("auth.password_rejected", `The password ${problem}`, {
        errors: [{ path: "body/newPassword", message: problem }],
      });
    }
    const passwordHash = await this.hasher.hash(next);
    return this.db.asUser(userId, async (tx) => {
      await users.updateUser(tx, userId, { passwordHash });
      const revoked = await sessions.revokeUserSessions(
        tx,
        userId,
        sessionId,
        this.clock.now(),
        "password_changed",
      );
      await audit(tx, { type: "user", id: userId }, meta, {
        action: "auth.password_changed",
        resourceType: "user",
        resourceId: userId,
        after: { revokedSessions: revoked },
      });
      return { revokedSessions: revoked };
    });
  }

  async deleteAccount(userId: string, password: string, meta: RequestMeta): Promise<void> {
    const user = await this.db.asUser(userId, (tx) => this.load(tx, userId));
    if (!(await this.hasher.verify(user.password_hash, password))) {
      throw new AppError("auth.wrong_password", "The password is wrong");
    }
    await this.db.asUser(userId, async (tx) => {
      const now = this.clock.now();
      await users.softDeleteUser(tx, userId, now);
      await sessions.revokeUserSessions(tx, userId, null, now, "account_deleted");
      for (const listener of this.standing) await listener(tx, userId, false);
      await audit(tx, { type: "user", id: userId }, meta, {
        action: "user.deleted",
        resourceType: "user",
        resourceId: userId,
      });
    });
  }

  async listSessions(userId: string, currentSessionId: string) {
    const rows = await this.db.asUser(userId, (tx) => sessions.listSessions(tx, userId, this.clock.now()));
    return rows.map((s) => sessionView(s, currentSessionId));
  }

  async revokeSession(userId: string, sessionId: string, meta: RequestMeta): Promise<void> {
    await this.db.asUser(userId, async (tx) => {
      // RLS hides other users' sessions, so their ids look exactly like unknown ones.
      if (!(await sessions.revokeSession(tx, userId, sessionId, this.clock.now(), "revoked_by_user"))) {
        throw notFound("Session");
      }
      await audit(tx, { type: "user", id: userId }, meta, {
        action: "auth.session_revoked",
        resourceType: "session",
        resourceId: sessionId,
      });
    });
  }

  /** Everything Ludus holds about the user, as one JSON document (GDPR art. 15 and 20). */
  async export(userId: string, meta: RequestMeta): Promise<{ exportedAt: string; user: UserView }> {
    return this.db.asUser(userId, async (tx) => {
      const document: { exportedAt: string; user: UserView } & Record<string, unknown> = {
        exportedAt: this.clock.now().toISOString(),
        user: userView(await this.load(tx, userId)),
      };
      for (const exporter of this.exporters) {
        const [key, value] = await exporter(tx, userId);
        document[key] = value;
      }
      await audit(tx, { type: "user", id: userId }, meta, {
        action: "user.exported",
        resourceType: "user",
        resourceId: userId,
      });
      return document;
    });
  }

  private async load(tx: Tx, userId: string): Promise<users.UserRow> {
    const user = await users.findUserById(tx, userId);
    if (user === undefined) throw notFound("User");
    return user;
  }
}

/** The fields of a view that a change touched, for a compact before/after in the audit log. */
function pick(view: UserView, changes: ProfileChanges): Record<string, unknown> {
  const flat: Record<string, unknown> = {
    displayName: view.displayName,
    username: view.username,
    ...view.profile,
  };
  return Object.fromEntries(Object.keys(changes).map((k) => [k, flat[k]]));
}
