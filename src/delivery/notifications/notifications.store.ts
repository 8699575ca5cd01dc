import type { Tx } from "../../platform/db/database.ts";
import type { ChannelPrefs, NewNotification } from "./types.ts";

export interface NotificationRow {
  id: string;
  type: string;
  title: string;
  message: string;
  data: Record<string, unknown>;
  read_at: Date | null;
  created_at: Date;
  expires_at: Date | null;
  cursor_at: string;
}

const COLUMNS = `id, type, title, message, data, read_at, created_at, expires_at, created_at::text AS cursor_at`;

/** Inserts one notification unless its effect already made one; returns its id if new. */
export async function insertNotification(
  tx: Tx,
  userId: string,
  n: NewNotification,
  inApp: boolean,
  createdAt: Date,
): Promise<string | undefined> {
  const row = await tx.maybeOne<{ id: string }>(
    `INSERT INTO notifications (user_id, type, title, message, data, dedupe_key, in_app, created_at, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
     ON CONFLICT (user_id, dedupe_key, created_at) DO NOTHING RETURNING id`,
    [
      userId,
      n.type,
      n.title.slice(0, 255),
      n.message.slice(0, 2000),
      JSON.stringify(n.data),
      n.dedupeKey,
      inApp,
      createdAt,
      n.expiresAt,
    ],
  );
  return row?.id;
}

export async function insertSends(
  tx: Tx,
  notificationId: string,
  userId: string,
  channels: string[],
  now: Date,
) {
  if (channels.length === 0) return;
  await tx.exec(
    `INSERT INTO notification_sends (notification_id, user_id, channel, next_attempt_at, created_at)
     SELECT $1, $2, c, $4, $4 FROM unnest($3::text[]) AS c ON CONFLICT DO NOTHING`,
    [notificationId, userId, channels, now],
  );
}

export async function preferences(tx: Tx, userId: string): Promise<Map<string, ChannelPrefs>> {
  const rows = await tx.rows<{ type: string; in_app: boolean; email: boolean; push: boolean }>(
    `SELECT type, in_app, email, push FROM notification_preferences WHERE user_id = $1`,
    [userId],
  );
  return new Map(rows.map((r) => [r.type, { inApp: r.in_app, email: r.email, push: r.push }]));
}

export async function savePreferences(tx: Tx, userId: string, prefs: [string, ChannelPrefs][], now: Date) {
  await tx.exec(
    `INSERT INTO notification_preferences (user_id, type, in_app, email, push, updated_at)
     SELECT $1, * , $6 FROM unnest($2::text[], $3::boolean[], $4::boolean[], $5::boolean[])
     ON CONFLICT (user_id, type) DO UPDATE SET in_app = EXCLUDED.in_app, email = EXCLUDED.email,
       push = EXCLUDED.push, updated_at = EXCLUDED.updated_at`,
    [
      userId,
      prefs.map((p) => p[0]),
      prefs.map((p) => p[1].inApp),
      prefs.map((p) => p[1].email),
      prefs.map((p) => p[1].push),
      now,
    ],
  );
}

/** The player's in-app notifications, newest first; expired ones are left out. */
export function listNotifications(
  tx: Tx,
  userId: string,
  f: { unread: boolean; before?: { at: string; id: string }; limit: number; now: Date },
): Promise<NotificationRow[]> {
  return tx.rows<NotificationRow>(
    `SELECT ${COLUMNS} FROM notifications
     WHERE user_id = $1 AND in_app AND (NOT $2 OR read_at IS NULL) AND (expires_at IS NULL OR expires_at > $6)
       AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4::uuid))
     ORDER BY created_at DESC, id DESC LIMIT $5`,
    [userId, f.unread, f.before?.at ?? null, f.before?.id ?? null, f.limit, f.now],
  );
}

export async function unreadCount(tx: Tx, userId: string, now: Date): Promise<number> {
  const row = await tx.one<{ n: number }>(
    `SELECT count(*)::int AS n FROM notifications
     WHERE user_id = $1 AND in_app AND read_at IS NULL AND (expires_at IS NULL OR expires_at > $2)`,
    [userId, now],
  );
  return row.n;
}

export function markRead(
  tx: Tx,
  userId: string,
  id: string,
  now: Date,
): Promise<NotificationRow | undefined> {
  return tx.maybeOne<NotificationRow>(
    `UPDATE notifications SET read_at = coalesce(read_at, $3) WHERE id = $2 AND user_id = $1 AND in_app
     RETURNING ${COLUMNS}`,
    [userId, id, now],
  );
}

export function markAllRead(tx: Tx, userId: string, now: Date): Promise<number> {
  return tx.exec(`UPDATE notifications SET read_at = $2 WHERE user_id = $1 AND in_app AND read_at IS NULL`, [
    userId,
    now,
  ]);
}

export interface ClaimedSend {
  id: string;
  channel: "email" | "push";
  attempts: number;
  user_id: string;
  email: string | null;
  notification_id: string;
  type: string;
  title: string;
  message: string;
  data: Record<string, unknown>;
}

/**
 * Takes due sends (or sends whose sender died), leased until `leaseUntil`, counting the attempt.
 * A send whose notification is gone (its partition dropped) is marked dead in the same statement
 * and not returned, so it is never claimed again.
 */
export function claimSends(tx: Tx, now: Date, leaseUntil: Date, limit: number): Promise<ClaimedSend[]> {
  return tx.rows<ClaimedSend>(
    `WITH due AS (
       SELECT s.id, NOT EXISTS (
           SELECT 1 FROM notifications n WHERE n.id = s.notification_id AND n.user_id = s.user_id
         ) AS gone
       FROM notification_sends s
       WHERE s.status IN ('pending', 'sending')
         AND CASE s.status WHEN 'pending' THEN s.next_attempt_at <= $1 ELSE s.locked_until <= $1 END
       ORDER BY s.next_attempt_at LIMIT $3 FOR UPDATE OF s SKIP LOCKED
     ), claimed AS (
       UPDATE notification_sends s SET
         status = CASE WHEN due.gone THEN 'dead' ELSE 'sending' END,
         locked_until = CASE WHEN due.gone THEN NULL ELSE $2::timestamptz END,
         last_error = CASE WHEN due.gone THEN 'the notification no longer exists' ELSE s.last_error END,
         attempts = s.attempts + 1
       FROM due WHERE s.id = due.id
       RETURNING s.id, s.channel, s.attempts, s.user_id, s.notification_id, s.created_at, due.gone
     )
     SELECT c.id, c.channel, c.attempts, c.user_id, u.email, c.notification_id, n.type, n.title, n.message, n.data
     FROM claimed c
     JOIN users u ON u.id = c.user_id
     JOIN notifications n ON n.id = c.notification_id AND n.user_id = c.user_id
     WHERE NOT c.gone`,
    [now, leaseUntil, limit],
  );
}

export async function finishSend(
  tx: Tx,
  id: string,
  attempt: number,
  o: { ok: boolean; error: string | null; now: Date; retryAt: Date | null },
): Promise<void> {
  await tx.exec(
    `UPDATE notification_sends SET
       status = CASE WHEN $2 THEN 'sent' WHEN $5::timestamptz IS NULL THEN 'dead' ELSE 'pending' END,
       sent_at = CASE WHEN $2 THEN $4::timestamptz END,
       next_attempt_at = coalesce($5, next_attempt_at), last_error = $3, locked_until = NULL
     WHERE id = $1 AND status = 'sending' AND attempts = $6`,
    [id, o.ok, o.error, o.now, o.retryAt, attempt],
  );
}

/** Whether the player has ever had a notification for this effect (any month). */
export async function hasNotification(tx: Tx, userId: string, dedupeKey: string): Promise<boolean> {
  const row = await tx.maybeOne<{ found: boolean }>(
    `SELECT true AS found FROM notifications WHERE user_id = $1 AND dedupe_key = $2 LIMIT 1`,
    [userId, dedupeKey],
  );
  return row !== undefined;
}
