import { topStanding } from "../../leaderboards/leaderboards.store.ts";
import type { Logger } from "pino";
import type { Clock } from "../../platform/clock.ts";
import type { Database, Tx } from "../../platform/db/database.ts";
import { notFound } from "../../platform/http/errors.ts";
import { decodeCursor, toPage } from "../../platform/http/pagination.ts";
import { backoffMs, errorText } from "../backoff.ts";
import type { OutboxHandler } from "../dispatcher.ts";
import type { OutboxMessage } from "../messages.ts";
import {
  emailChannel,
  pushChannel,
  type EmailSettings,
  type PushSettings,
  type SendChannel,
} from "./channels.ts";
import * as store from "./notifications.store.ts";
import {
  NOTIFICATION_TYPES,
  notificationsFor,
  TYPE_KEYS,
  type ChannelPrefs,
  type NewNotification,
  type NotificationType,
} from "./types.ts";

export interface NotificationSettings {
  /** SMTP for email; without it no email is queued. */
  email: EmailSettings | undefined;
  /** The push gateway; without it no push is queued. */
  push: PushSettings | undefined;
  maxAttempts: number;
  retryBaseMs: number;
  retryMaxMs: number;
  timeoutMs: number;
  batchSize: number;
}

export const NOTIFICATION_DEFAULTS: NotificationSettings = {
  email: undefined,
  push: undefined,
  maxAttempts: 8,
  retryBaseMs: 30_000,
  retryMaxMs: 3_600_000,
  timeoutMs: 10_000,
  batchSize: 20,
};

const view = (r: store.NotificationRow) => ({
  id: r.id,
  type: r.type,
  title: r.title,
  message: r.message,
  data: r.data,
  read: r.read_at !== null,
  readAt: r.read_at?.toISOString() ?? null,
  createdAt: r.created_at.toISOString(),
  expiresAt: r.expires_at?.toISOString() ?? null,
});

const effective = (saved: Map<string, ChannelPrefs>, type: NotificationType): ChannelPrefs =>
  saved.get(type) ?? NOTIFICATION_TYPES[type];

/**
 * Notifications: made by the dispatcher from events' effects (and by the scheduler), shown in the
 * player's list, and sent by email and push according to the player's preferences per type.
 */
export class NotificationService implements OutboxHandler {
  readonly name = "notifications";
  private readonly channels: Partial<Record<"email" | "push", SendChannel>> = {};

  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly settings: NotificationSettings = NOTIFICATION_DEFAULTS,
  ) {
    if (settings.email !== undefined) this.channels.email = emailChannel(settings.email, settings.timeoutMs);
    if (settings.push !== undefined) this.channels.push = pushChannel(settings.push, settings.timeoutMs);
  }

  // --- made from effects --------------------------------------------------------------------------

  async handle(tx: Tx, message: OutboxMessage, now: Date): Promise<void> {
    const wanted = [...notificationsFor(message), ...(await this.rankTops(tx, message))];
    if (wanted.length === 0) return;
    await this.notify(tx, message.userId, wanted, message.createdAt, now);
  }

  /**
   * `rank_top`: the first time in a board period that an event leaves the player within the
   * board's top (its snapshot size, 10 by default) — once per board period, judged when the
   * event is dispatched (so a rank that moved again in between is the one told).
   */
  private async rankTops(tx: Tx, message: OutboxMessage): Promise<NewNotification[]> {
    const out: NewNotification[] = [];
    for (const { boardId, periodKey } of message.boards) {
      const standing = await topStanding(tx, boardId, periodKey, message.userId);
      if (standing?.rank === undefined || standing.rank === null) continue;
      const dedupeKey = `rank_top:${standing.key}:${periodKey}`;
      if (await store.hasNotification(tx, message.userId, dedupeKey)) continue;
      out.push({
        type: "rank_top",
        title: `Top ${standing.top} on ${standing.name}`,
        message: `You are #${standing.rank} on ${standing.name} (${periodKey}) with ${standing.score}.`,
        data: {
          board: standing.key,
          period: periodKey,
          rank: standing.rank,
          score: standing.score,
          eventId: message.eventId,
        },
        dedupeKey,
        expiresAt: null,
      });
    }
    return out;
  }

  /**
   * Records notifications for a player and queues their email and push sends, per the player's
   * preferences. `createdAt` must be the same on a retry (it is part of the dedupe key).
   */
  async notify(
    tx: Tx,
    userId: string,
    wanted: NewNotification[],
    createdAt: Date,
    now: Date,
  ): Promise<number> {
    const saved = await store.preferences(tx, userId);
    let made = 0;
    for (const n of wanted) {
      const prefs = effective(saved, n.type);
      const channels = (["email", "push"] as const).filter((c) => prefs[c] && this.channels[c] !== undefined);
      if (!prefs.inApp && channels.length === 0) continue;
      const id = await store.insertNotification(tx, userId, n, prefs.inApp, createdAt);
      if (id === undefined) continue;
      made += 1;
      await store.insertSends(tx, id, userId, channels, now);
    }
    return made;
  }

  // --- the player's routes -------------------------------------------------------------------------

  async list(userId: string, q: { limit: number; cursor?: string; unread?: boolean }) {
    const before = decodeCursor(q.cursor);
    const now = this.clock.now();
    return this.db.asUser(userId, async (tx) => {
      const rows = await store.listNotifications(tx, userId, {
        unread: q.unread === true,
        before,
        limit: q.limit + 1,
        now,
      });
      const page = toPage(rows, q.limit, (r) => ({ at: r.cursor_at, id: r.id }), view);
      return { ...page, unreadCount: await store.unreadCount(tx, userId, now) };
    });
  }

  async markRead(userId: string, id: string) {
    const row = await this.db.asUser(userId, (tx) => store.markRead(tx, userId, id, this.clock.now()));
    if (row === undefined) throw notFound("Notification");
    return view(row);
  }

  async markAllRead(userId: string): Promise<{ updated: number }> {
    return { updated: await this.db.asUser(userId, (tx) => store.markAllRead(tx, userId, this.clock.now())) };
  }

  async preferences(userId: string) {
    const saved = await this.db.asUser(userId, (tx) => store.preferences(tx, userId));
    return {
      items: TYPE_KEYS.map((type) => ({ type, ...effective(saved, type), custom: saved.has(type) })),
      channels: {
        inApp: true,
        email: this.channels.email !== undefined,
        push: this.channels.push !== undefined,
      },
    };
  }

  async setPreferences(userId: string, change: Partial<Record<NotificationType, Partial<ChannelPrefs>>>) {
    await this.db.asUser(userId, async (tx) => {
      const saved = await store.preferences(tx, userId);
      const rows: [string, ChannelPrefs][] = Object.entries(change).map(([type, c]) => [
        type,
        { ...effective(saved, type as NotificationType), ...c },
      ]);
      await store.savePreferences(tx, userId, rows, this.clock.now());
    });
    return this.preferences(userId);
  }

  // --- the sender -----------------------------------------------------------------------------------

  async runOnce(): Promise<{ sent: number; failed: number; more: boolean }> {
    if (this.channels.email === undefined && this.channels.push === undefined) {
      return { sent: 0, failed: 0, more: false };
    }
    const now = this.clock.now();
    const lease = new Date(now.getTime() + this.settings.timeoutMs + 30_000);
    const claimed = await this.db.asSystem((tx) => store.claimSends(tx, now, lease, this.settings.batchSize));
    const results = await Promise.all(claimed.map((s) => this.send(s)));
    return {
      sent: results.filter((ok) => ok).length,
      failed: results.filter((ok) => !ok).length,
      more: claimed.length >= this.settings.batchSize,
    };
  }

  private async send(s: store.ClaimedSend): Promise<boolean> {
    let error: string | null = null;
    try {
      const channel = this.channels[s.channel];
      if (channel === undefined) throw new Error(`the ${s.channel} channel is not configured`);
      await channel.send(s);
    } catch (err) {
      error = errorText(err, 500);
    }
    const now = this.clock.now();
    const dead = error !== null && s.attempts >= this.settings.maxAttempts;
    const retryAt =
      error === null || dead
        ? null
        : new Date(
            now.getTime() + backoffMs(s.attempts, this.settings.retryBaseMs, this.settings.retryMaxMs),
          );
    await this.db.asSystem((tx) =>
      store.finishSend(tx, s.id, s.attempts, { ok: error === null, error, now, retryAt }),
    );
    if (error !== null) {
      this.logger.info(
        { sendId: s.id, channel: s.channel, attempt: s.attempts, error, dead },
        "notification send failed",
      );
    }
    return error === null;
  }

  close(): void {
    this.channels.email?.close?.();
  }
}
