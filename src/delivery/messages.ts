import type { Effects } from "../engine/effects.ts";

/** The effects an event caused itself (the outbox payload's `effects`). */
export type OwnEffects = Pick<Effects, "awards" | "levelUps" | "achievements" | "streaks" | "quests">;

/** What the dispatcher hands to each channel: one committed event of one player. */
export interface OutboxMessage {
  /** The outbox row id: increasing per player, the stream's event id. */
  id: number;
  userId: string;
  topic: string;
  eventId: string;
  type: string;
  occurredAt: string;
  parentId: string | null;
  data: Record<string, unknown>;
  effects: OwnEffects;
  /** The board periods where the event left the player ranked. */
  boards: { boardId: string; periodKey: string }[];
  /** When the row was written (the event's transaction). */
  createdAt: Date;
}
