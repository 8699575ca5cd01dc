import type { OutboxMessage } from "../messages.ts";

export const CHANNELS = ["inApp", "email", "push"] as const;
export type Channel = (typeof CHANNELS)[number];
export type ChannelPrefs = Record<Channel, boolean>;

/**
 * Every notification type with its default channels. In-app is on for all; push for what a
 * player would want to hear about at once; email only for the reminder that can save a streak.
 */
export const NOTIFICATION_TYPES = {
  achievement: { inApp: true, email: false, push: true },
  level_up: { inApp: true, email: false, push: false },
  quest_complete: { inApp: true, email: false, push: true },
  streak_saved: { inApp: true, email: false, push: true },
  streak_at_risk: { inApp: true, email: true, push: true },
  rank_top: { inApp: true, email: false, push: false },
} as const satisfies Record<string, ChannelPrefs>;

export type NotificationType = keyof typeof NOTIFICATION_TYPES;
export const TYPE_KEYS = Object.keys(NOTIFICATION_TYPES) as NotificationType[];

export interface NewNotification {
  type: NotificationType;
  title: string;
  message: string;
  data: Record<string, unknown>;
  /** Names the effect it comes from: the same effect never makes two notifications. */
  dedupeKey: string;
  expiresAt: Date | null;
}

/** The notifications an event's own effects call for (pure). */
export function notificationsFor(m: OutboxMessage): NewNotification[] {
  const out: NewNotification[] = [];
  const e = m.effects;
  for (const a of e.achievements) {
    out.push({
      type: "achievement",
      title: `Achievement unlocked: ${a.name}`,
      message: `You unlocked "${a.name}" (${a.rarity}).`,
      data: { key: a.key, rarity: a.rarity, eventId: m.eventId },
      dedupeKey: `achievement:${a.key}`,
      expiresAt: null,
    });
  }
  for (const l of e.levelUps) {
    out.push({
      type: "level_up",
      title: `Level ${l.level} reached`,
      message: `You went from level ${l.previousLevel} to level ${l.level}.`,
      data: { level: l.level, previousLevel: l.previousLevel, eventId: m.eventId },
      dedupeKey: `level:${m.eventId}:${l.level}`,
      expiresAt: null,
    });
  }
  for (const q of e.quests) {
    if (!q.completed) continue;
    out.push({
      type: "quest_complete",
      title: `Quest complete: ${q.name}`,
      message: `You completed "${q.name}" (${q.target}/${q.target}).`,
      data: { key: q.key, period: q.period, eventId: m.eventId },
      dedupeKey: `quest:${q.key}:${q.period}`,
      expiresAt: null,
    });
  }
  for (const s of e.streaks) {
    if (s.frozen <= 0) continue;
    out.push({
      type: "streak_saved",
      title: `Streak saved: ${s.name}`,
      message: `${s.frozen} freeze token${s.frozen === 1 ? "" : "s"} covered what you missed; your streak is at ${s.current}.`,
      data: { key: s.key, frozen: s.frozen, current: s.current, eventId: m.eventId },
      dedupeKey: `streak_saved:${m.eventId}:${s.key}`,
      expiresAt: null,
    });
  }
  return out;
}
