import { Type, type Static } from "typebox";

export type EventSource = "api_key" | "player" | "system" | "admin";

export const AwardEffectSchema = Type.Object({
  rule: Type.String({ description: "Key of the rule that paid" }),
  currency: Type.String(),
  amount: Type.Integer(),
  balance: Type.Union([Type.Number(), Type.Null()], {
    description: "Balance after the award; null if a cap left nothing to pay",
  }),
  capped: Type.Boolean({ description: "True when a per-period cap reduced the award" }),
  eventId: Type.Optional(Type.String({ format: "uuid" })),
});

export const EffectsSchema = Type.Object({
  awards: Type.Array(AwardEffectSchema),
  balances: Type.Record(Type.String(), Type.Number(), {
    description: "Balances after this event, per currency it changed",
  }),
  levelUps: Type.Array(Type.Object({ level: Type.Integer(), previousLevel: Type.Integer() })),
  counters: Type.Array(
    Type.Object({ stat: Type.String(), day: Type.String(), daily: Type.Integer(), total: Type.Integer() }),
  ),
  achievements: Type.Array(
    Type.Object({
      key: Type.String(),
      name: Type.String(),
      rarity: Type.String(),
      eventId: Type.String({ format: "uuid", description: "The event whose effects unlocked it" }),
    }),
    { description: "Achievements unlocked by this event (and what it caused)" },
  ),
  streaks: Type.Array(
    Type.Object({
      key: Type.String(),
      name: Type.String(),
      change: Type.Enum(["started", "extended", "restarted"], {
        description: "started: first period; extended: the next one; restarted: the streak had broken",
      }),
      current: Type.Integer(),
      longest: Type.Integer(),
      frozen: Type.Integer({ description: "Freeze tokens spent on missed periods" }),
      protected: Type.Integer({ description: "Missed periods forgiven by a protection window" }),
      milestones: Type.Array(Type.Integer(), { description: "Milestones reached (and paid) now" }),
      eventId: Type.String({ format: "uuid" }),
    }),
    { description: "Streaks this event counted for" },
  ),
  quests: Type.Array(
    Type.Object({
      key: Type.String(),
      name: Type.String(),
      period: Type.String({ description: "The quest's period key in the player's calendar, or 'special'" }),
      progress: Type.Integer(),
      target: Type.Integer(),
      completed: Type.Boolean(),
      eventId: Type.String({ format: "uuid" }),
    }),
    { description: "Quests this event advanced" },
  ),
  derived: Type.Array(
    Type.Object({
      eventId: Type.String({ format: "uuid" }),
      type: Type.String(),
      data: Type.Record(Type.String(), Type.Unknown()),
    }),
  ),
});

export type AwardEffect = Static<typeof AwardEffectSchema>;
export type Effects = Static<typeof EffectsSchema>;
export type DerivedEvent = Effects["derived"][number];
