import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import { Condition, DefinitionKey, EventKey, Nullable, Rewards } from "../engine/schemas.ts";
import { currentUser, type Guards } from "../identity/guards.ts";
import { keyedDefinitionRoutes } from "../engine/keyed-routes.ts";
import { Page, PageQuery, problems, Timestamp } from "../platform/http/schemas.ts";
import type { QuestsService } from "./quests.service.ts";

const Cadence = Type.Enum(["day", "week", "month", "special"]);
const Difficulty = Type.Enum(["easy", "medium", "hard", "epic", "legendary"]);
const fields = {
  name: Type.String({ minLength: 1, maxLength: 100 }),
  description: Type.Optional(Type.String({ maxLength: 1000 })),
  category: Type.Optional(Type.String({ minLength: 1, maxLength: 50 })),
  difficulty: Type.Optional(Difficulty),
  cadence: Cadence,
  startsAt: Type.Optional(Nullable(Timestamp, { description: "Window start (required for special quests)" })),
  endsAt: Type.Optional(Nullable(Timestamp, { description: "Window end (required for special quests)" })),
  target: Type.Integer({ minimum: 1, maximum: 1_000_000_000 }),
  eventTypes: Type.Array(EventKey, { minItems: 1, maxItems: 20, uniqueItems: true }),
  condition: Type.Optional(Condition),
  amountField: Type.Optional(
    Nullable(Type.String({ pattern: "^data(\\.[A-Za-z0-9_]+)+$", maxLength: 100 }), {
      description: "Advance by this number field of the event (e.g. data.minutes) instead of by 1",
    }),
  ),
  mode: Type.Optional(
    Type.Enum(["sum", "max", "distinct"], {
      description:
        "sum the amounts, keep the largest (max), or count each value of amountField once (distinct)",
    }),
  ),
  rewards: Type.Optional(Rewards),
  timeLimitHours: Type.Optional(Nullable(Type.Integer({ minimum: 1, maximum: 8784 }))),
  pool: Type.Optional(Nullable(DefinitionKey)),
  active: Type.Optional(Type.Boolean()),
};
const CreateQuest = Type.Object({ key: DefinitionKey, ...fields }, { additionalProperties: false });
const UpdateQuest = Type.Partial(Type.Object(fields), { additionalProperties: false, minProperties: 1 });
const Quest = Type.Object({
  key: Type.String(),
  name: Type.String(),
  description: Type.String(),
  category: Type.String(),
  difficulty: Difficulty,
  cadence: Cadence,
  startsAt: Nullable(Type.String()),
  endsAt: Nullable(Type.String()),
  target: Type.Integer(),
  eventTypes: Type.Array(Type.String()),
  condition: Condition,
  amountField: Nullable(Type.String()),
  mode: Type.Enum(["sum", "max", "distinct"]),
  rewards: Rewards,
  timeLimitHours: Nullable(Type.Integer()),
  pool: Nullable(Type.String()),
  active: Type.Boolean(),
});
const poolFields = {
  name: Type.String({ minLength: 1, maxLength: 100 }),
  size: Type.Integer({ minimum: 1, maximum: 50, description: "How many of the pool's quests a player gets" }),
  rerolls: Type.Optional(Type.Integer({ minimum: 0, maximum: 10, description: "Swaps allowed per period" })),
};
const Pool = Type.Object({
  key: Type.String(),
  name: Type.String(),
  size: Type.Integer(),
  rerolls: Type.Integer(),
});
const MyQuest = Type.Object({
  key: Type.String(),
  name: Type.String(),
  description: Type.String(),
  category: Type.String(),
  difficulty: Type.String(),
  cadence: Type.String(),
  period: Type.String({
    description: "Period key in my calendar (2026-03-08, 2026-W10, 2026-03) or 'special'",
  }),
  status: Type.Enum(["active", "completed", "expired", "rerolled"]),
  progress: Type.Integer(),
  target: Type.Integer(),
  rewards: Rewards,
  pool: Nullable(Type.String()),
  startsAt: Timestamp,
  expiresAt: Timestamp,
  secondsLeft: Type.Integer(),
  completedAt: Nullable(Timestamp),
});
const KeyParams = Type.Object({ key: DefinitionKey }, { additionalProperties: false });

export const questRoutes: FastifyPluginAsyncTypebox<{ quests: QuestsService; guards: Guards }> = async (
  app,
  { quests, guards },
) => {
  const security = [{ bearer: [] }];

  app.get(
    "/v1/me/quests",
    {
      preHandler: guards.user,
      schema: {
        tags: ["quests"],
        security,
        summary: "My quests (current ones by default; history with status=all), assigned on first look",
        querystring: Type.Object(
          {
            status: Type.Enum(["current", "active", "completed", "expired", "all"], { default: "current" }),
            ...PageQuery,
          },
          { additionalProperties: false },
        ),
        response: { 200: Page(MyQuest), ...problems(401, 403) },
      },
    },
    async (request) => quests.mine(currentUser(request).userId, request.query),
  );

  app.post(
    "/v1/me/quests/:key/reroll",
    {
      preHandler: guards.user,
      schema: {
        tags: ["quests"],
        security,
        summary: "Swap one of my current pool quests for another from the same pool",
        params: KeyParams,
        response: { 200: MyQuest, ...problems(401, 403, 404, 409) },
      },
    },
    async (request) => quests.reroll(currentUser(request).userId, request.params.key),
  );

  await app.register(
    keyedDefinitionRoutes({
      path: "/v1/admin/quests",
      noun: "quest template",
      summaries: { update: "Change a quest template (quests already given keep their target)" },
      schemas: { create: CreateQuest, update: UpdateQuest, view: Quest },
      list: () => quests.list(),
      save: (actor, meta, input, mode) => quests.save(actor, meta, input, mode),
    }),
    { guards },
  );
  await app.register(
    keyedDefinitionRoutes({
      path: "/v1/admin/quest-pools",
      noun: "quest pool",
      summaries: { create: "Create a quest pool (players get `size` of its quests per period)" },
      schemas: {
        create: Type.Object({ key: DefinitionKey, ...poolFields }, { additionalProperties: false }),
        update: Type.Partial(Type.Object(poolFields), { additionalProperties: false, minProperties: 1 }),
        view: Pool,
      },
      list: () => quests.listPools(),
      save: (actor, meta, input, mode) => quests.savePool(actor, meta, input, mode),
    }),
    { guards },
  );
};
