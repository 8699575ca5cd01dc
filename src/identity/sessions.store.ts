import type { Tx } from "../platform/db/database.ts";

export interface SessionRow {
  id: string;
  user_id: string;
  ip: string | null;
  user_agent: string | null;
  created_at: Date;
  last_activity_at: Date;
  expires_at: Date;
  revoked_at: Date | null;
  revoked_reason: string | null;
}

export interface RefreshTokenRow {
  id: string;
  session_id: string;
  user_id: string;
  expires_at: Date;
  used_at: Date | null;
}

export function insertSession(
  tx: Tx,
  session: { userId: string; ip: string | null; userAgent: string | null; now: Date; expiresAt: Date },
): Promise<SessionRow> {
  return tx.one<SessionRow>(
    `INSERT INTO sessions (user_id, ip, user_agent, created_at, last_activity_at, expires_at)
     VALUES ($1, $2, $3, $4, $4, $5) RETURNING *`,
    [session.userId, session.ip, session.userAgent, session.now, session.expiresAt],
  );
}

export async function insertRefreshToken(
  tx: Tx,
  token: { sessionId: string; userId: string; hash: Buffer; now: Date; expiresAt: Date },
): Promise<void> {
  await tx.exec(
    `INSERT INTO refresh_tokens (session_id, user_id, token_hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)`,
    [token.sessionId, token.userId, token.hash, token.now, token.expiresAt],
  );
}

/** Locks the token row so that two concurrent refreshes with one token cannot both succeed. */
export function lockRefreshToken(tx: Tx, hash: Buffer): Promise<RefreshTokenRow | undefined> {
  return tx.maybeOne<RefreshTokenRow>(
    `SELECT id, session_id, user_id, expires_at, used_at FROM refresh_tokens WHERE token_hash = $1 FOR UPDATE`,
    [hash],
  );
}

export async function markRefreshTokenUsed(tx: Tx, id: string, at: Date): Promise<void> {
  await tx.exec(`UPDATE refresh_tokens SET used_at = $2 WHERE id = $1`, [id, at]);
}

export function findSession(tx: Tx, id: string): Promise<SessionRow | undefined> {
  return tx.maybeOne<SessionRow>(`SELECT * FROM sessions WHERE id = $1`, [id]);
}

export async function touchSession(tx: Tx, id: string, at: Date, expiresAt: Date): Promise<void> {
  await tx.exec(`UPDATE sessions SET last_activity_at = $2, expires_at = $3 WHERE id = $1`, [
    id,
    at,
    expiresAt,
  ]);
}

/** Revokes the given session of a user; returns whether it was active before. */
export async function revokeSession(
  tx: Tx,
  userId: string,
  id: string,
  at: Date,
  reason: string,
): Promise<boolean> {
  const n = await tx.exec(
    `UPDATE sessions SET revoked_at = $3, revoked_reason = $4 WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL`,
    [id, userId, at, reason],
  );
  return n > 0;
}

/** Revokes every active session of a user except one (or all when except is null). */
export function revokeUserSessions(tx: Tx, userId: string, except: string | null, at: Date, reason: string) {
  return tx.exec(
    `UPDATE sessions SET revoked_at = $3, revoked_reason = $4
     WHERE user_id = $1 AND revoked_at IS NULL AND id IS DISTINCT FROM $2`,
    [userId, except, at, reason],
  );
}

export function listSessions(tx: Tx, userId: string, now: Date): Promise<SessionRow[]> {
  return tx.rows<SessionRow>(
    `SELECT * FROM sessions WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2
     ORDER BY last_activity_at DESC LIMIT 100`,
    [userId, now],
  );
}

/** What authenticating a request needs to know, in one indexed lookup. */
export function findSessionForAuth(
  tx: Tx,
  sessionId: string,
): Promise<
  | {
      user_id: string;
      role: "player" | "moderator" | "admin";
      usable: boolean;
      revoked: boolean;
      expires_at: Date;
    }
  | undefined
> {
  return tx.maybeOne(
    `SELECT s.user_id, u.role, (u.is_active AND u.deleted_at IS NULL) AS usable,
            s.revoked_at IS NOT NULL AS revoked, s.expires_at
     FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = $1`,
    [sessionId],
  );
}
