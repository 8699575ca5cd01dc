import type { Tx } from "../platform/db/database.ts";

export type Role = "player" | "moderator" | "admin";

export interface UserRow {
  id: string;
  email: string;
  username: string;
  password_hash: string | null;
  display_name: string;
  role: Role;
  is_active: boolean;
  email_verified: boolean;
  last_login_at: Date | null;
  created_at: Date;
  updated_at: Date;
  deleted_at: Date | null;
  erased_at: Date | null;
  avatar_url: string | null;
  bio: string | null;
  time_zone: string;
  day_start_hour: number;
  locale: string;
  cursor_at: string;
}

const SELECT_USER = `
  SELECT u.*, p.avatar_url, p.bio, coalesce(p.time_zone, 'UTC') AS time_zone,
         coalesce(p.day_start_hour, 0) AS day_start_hour, coalesce(p.locale, 'en') AS locale,
         u.created_at::text AS cursor_at
  FROM users u LEFT JOIN user_profiles p ON p.user_id = u.id`;

export async function insertUser(
  tx: Tx,
  user: {
    email: string;
    username: string;
    passwordHash: string;
    displayName: string;
    role: Role;
    timeZone: string;
    locale: string;
  },
): Promise<UserRow> {
  const { id } = await tx.one<{ id: string }>(
    `INSERT INTO users (email, username, password_hash, display_name, role)
     VALUES ($1, $2, $3, $4, $5) RETURNING id`,
    [user.email, user.username, user.passwordHash, user.displayName, user.role],
  );
  await tx.exec(`INSERT INTO user_profiles (user_id, time_zone, locale) VALUES ($1, $2, $3)`, [
    id,
    user.timeZone,
    user.locale,
  ]);
  return (await findUserById(tx, id)) as UserRow;
}

export function findUserById(tx: Tx, id: string): Promise<UserRow | undefined> {
  return tx.maybeOne<UserRow>(`${SELECT_USER} WHERE u.id = $1`, [id]);
}

/** Finds a user by email or username, both case-insensitively. */
export function findUserByLogin(tx: Tx, login: string): Promise<UserRow | undefined> {
  return tx.maybeOne<UserRow>(
    `${SELECT_USER} WHERE lower(u.email) = lower($1) OR lower(u.username) = lower($1) LIMIT 1`,
    [login],
  );
}

export async function emailOrUsernameTaken(
  tx: Tx,
  email: string | undefined,
  username: string | undefined,
  exceptId?: string,
): Promise<{ email: boolean; username: boolean }> {
  const row = await tx.one<{ email: boolean; username: boolean }>(
    `SELECT
       EXISTS (SELECT 1 FROM users WHERE lower(email) = lower($1) AND id IS DISTINCT FROM $3) AS email,
       EXISTS (SELECT 1 FROM users WHERE lower(username) = lower($2) AND id IS DISTINCT FROM $3) AS username`,
    [email ?? null, username ?? null, exceptId ?? null],
  );
  return row;
}

export async function updateUser(
  tx: Tx,
  id: string,
  changes: {
    displayName?: string;
    username?: string;
    role?: Role;
    isActive?: boolean;
    passwordHash?: string;
  },
): Promise<void> {
  await tx.exec(
    `UPDATE users SET
       display_name = coalesce($2, display_name),
       username = coalesce($3, username),
       role = coalesce($4::user_role, role),
       is_active = coalesce($5, is_active),
       password_hash = coalesce($6, password_hash),
       updated_at = now()
     WHERE id = $1`,
    [
      id,
      changes.displayName ?? null,
      changes.username ?? null,
      changes.role ?? null,
      changes.isActive ?? null,
      changes.passwordHash ?? null,
    ],
  );
}

export async function updateProfile(
  tx: Tx,
  userId: string,
  changes: {
    avatarUrl?: string | null;
    bio?: string | null;
    timeZone?: string;
    dayStartHour?: number;
    locale?: string;
  },
): Promise<void> {
  // Explicit nulls clear avatar and bio, so "absent" and "null" are told apart with flags.
  await tx.exec(
    `UPDATE user_profiles SET
       avatar_url = CASE WHEN $2 THEN $3 ELSE avatar_url END,
       bio = CASE WHEN $4 THEN $5 ELSE bio END,
       time_zone = coalesce($6, time_zone),
       locale = coalesce($7, locale),
       day_start_hour = coalesce($8, day_start_hour),
       updated_at = now()
     WHERE user_id = $1`,
    [
      userId,
      changes.avatarUrl !== undefined,
      changes.avatarUrl ?? null,
      changes.bio !== undefined,
      changes.bio ?? null,
      changes.timeZone ?? null,
      changes.locale ?? null,
      changes.dayStartHour ?? null,
    ],
  );
}

export async function markLoggedIn(tx: Tx, id: string, at: Date): Promise<void> {
  await tx.exec(`UPDATE users SET last_login_at = $2 WHERE id = $1`, [id, at]);
}

export async function softDeleteUser(tx: Tx, id: string, at: Date): Promise<void> {
  await tx.exec(`UPDATE users SET deleted_at = $2, is_active = false, updated_at = now() WHERE id = $1`, [
    id,
    at,
  ]);
}

/** Replaces every personal field with a placeholder; the row stays so history keeps its references. */
export async function eraseUser(tx: Tx, id: string, at: Date): Promise<void> {
  const tag = `erased-${id}`;
  await tx.exec(
    `UPDATE users SET email = $2, username = $3, display_name = 'Erased user', password_hash = NULL,
       is_active = false, email_verified = false, deleted_at = coalesce(deleted_at, $4), erased_at = $4,
       updated_at = now()
     WHERE id = $1`,
    [id, `${tag}@invalid`, tag, at],
  );
  await tx.exec(
    `UPDATE user_profiles SET avatar_url = NULL, bio = NULL, updated_at = now() WHERE user_id = $1`,
    [id],
  );
}

export function countActiveAdmins(tx: Tx): Promise<{ count: number }> {
  return tx.one<{ count: number }>(
    `SELECT count(*)::int AS count FROM users WHERE role = 'admin' AND is_active AND deleted_at IS NULL`,
  );
}

export function listUsers(
  tx: Tx,
  filter: { q?: string; role?: Role; active?: boolean; after?: { at: string; id: string }; limit: number },
): Promise<UserRow[]> {
  return tx.rows<UserRow>(
    `${SELECT_USER}
     WHERE ($1::text IS NULL OR u.email ILIKE $1 OR u.username ILIKE $1 OR u.display_name ILIKE $1)
       AND ($2::user_role IS NULL OR u.role = $2)
       AND ($3::boolean IS NULL OR u.is_active = $3)
       AND ($4::timestamptz IS NULL OR (u.created_at, u.id) > ($4, $5::uuid))
     ORDER BY u.created_at, u.id
     LIMIT $6`,
    [
      filter.q === undefined ? null : `%${filter.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`,
      filter.role ?? null,
      filter.active ?? null,
      filter.after?.at ?? null,
      filter.after?.id ?? null,
      filter.limit + 1,
    ],
  );
}
