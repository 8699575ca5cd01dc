import { Type, type TSchema } from "typebox";
import { Timestamp, Uuid } from "../platform/http/schemas.ts";
import { EffectsSchema } from "./effects.ts";
import { LIMITS } from "../platform/limits.ts";

export const EventKey = Type.String({ pattern: "^[a-z][a-z0-9_]*(\\.[a-z][a-z0-9_]*)*$", maxLength: 64 });
/** Keys of definitions addressed by key: achievements, streaks, quests, pools. */
export const DefinitionKey = Type.String({ pattern: "^[a-z0-9][a-z0-9_.-]{0,63}$" });
export const CurrencyCode = Type.String({ pattern: "^[a-z][a-z0-9_]{1,31}$" });
export const JsonObject = Type.Record(Type.String({ maxLength: 200 }), Type.Unknown(), {
  maxProperties: 200,
});
export const Condition = Type.Union([JsonObject, Type.Null()], {
  description: "MongoDB-style query over {event, player}",
});
export const Reward = Type.Object(
  { currency: CurrencyCode, amount: Type.Integer({ minimum: 1, maximum: LIMITS.reward }) },
  { additionalProperties: false },
);
export const Rewards = Type.Array(Reward, { maxItems: 10 });
export const Nullable = <T extends TSchema>(schema: T, options: { description?: string } = {}) =>
  Type.Union([schema, Type.Null()], options);

export const IdempotencyKey = Type.String({ minLength: 1, maxLength: 200, pattern: "^[\\x21-\\x7e]+$" });

export const EventBody = Type.Object(
  {
    type: EventKey,
    userId: Type.Optional(Uuid),
    occurredAt: Type.Optional(Type.String({ format: "date-time" })),
    idempotencyKey: Type.Optional(IdempotencyKey),
    data: Type.Optional(Type.Record(Type.String({ maxLength: 100 }), Type.Unknown(), { maxProperties: 100 })),
  },
  { additionalProperties: false },
);

export const MAX_BATCH = 1000;

export const BatchBody = Type.Object(
  {
    events: Type.Array(EventBody, { minItems: 1, maxItems: MAX_BATCH }),
    idempotencyKey: Type.Optional(IdempotencyKey),
  },
  { additionalProperties: false },
);

export const EventResultSchema = Type.Object({
  eventId: Uuid,
  duplicate: Type.Boolean({
    description: "True when this repeats an earlier request with the same idempotency key",
  }),
  type: Type.String(),
  userId: Uuid,
  occurredAt: Timestamp,
  effects: EffectsSchema,
});

export const ActivityItem = Type.Object({
  id: Uuid,
  type: Type.String(),
  occurredAt: Timestamp,
  receivedAt: Timestamp,
  source: Type.String(),
  parentId: Type.Union([Uuid, Type.Null()]),
  clientIp: Type.Union([Type.String(), Type.Null()], {
    description: "The address a player's own event came from (null for app backends and Ludus)",
  }),
  userAgent: Type.Union([Type.String(), Type.Null()]),
  data: Type.Record(Type.String(), Type.Unknown()),
  result: Type.Record(Type.String(), Type.Unknown()),
});

export const ActivityQuery = Type.Object(
  {
    type: Type.Optional(EventKey),
    limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
    cursor: Type.Optional(Type.String({ maxLength: 200, pattern: "^[A-Za-z0-9_-]+$" })),
  },
  { additionalProperties: false },
);
