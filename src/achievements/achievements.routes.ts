import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import { currentUser, type Guards } from "../identity/guards.ts";
import { keyedDefinitionRoutes } from "../engine/keyed-routes.ts";
import { problems } from "../platform/http/schemas.ts";
import { DefinitionKey, JsonObject, Reward, Rewards } from "../engine/schemas.ts";
import type { AchievementsService } from "./achievements.service.ts";

const Key = DefinitionKey;
const Rarity = Type.Enum(["common", "uncommon", "rare", "epic", "legendary"]);
const fields = {
  name: Type.String({ minLength: 1, maxLength: 100 }),
  description: Type.Optional(Type.String({ maxLength: 1000 })),
  category: Type.Optional(Type.String({ minLength: 1, maxLength: 50 })),
  rarity: Type.Optional(Rarity),
  icon: Type.Optional(Type.Union([Type.String({ maxLength: 200 }), Type.Null()])),
  color: Type.Optional(Type.Union([Type.String({ pattern: "^#[0-9A-Fa-f]{6}$" }), Type.Null()])),
  rewards: Type.Optional(Rewards),
  metric: Type.String({
    pattern: "^[a-z][a-z0-9_.-]*$",
    maxLength: 120,
    description:
      "level, stats.<counter>, earned.<currency>, balances.<currency> or streaks.<key> (the longest it has been)",
  }),
  target: Type.Integer({ minimum: 1, maximum: 1_000_000_000_000 }),
  condition: Type.Optional(Type.Union([JsonObject, Type.Null()])),
  hidden: Type.Optional(Type.Boolean()),
  startsAt: Type.Optional(Type.Union([Type.String({ format: "date-time" }), Type.Null()])),
  endsAt: Type.Optional(Type.Union([Type.String({ format: "date-time" }), Type.Null()])),
  active: Type.Optional(Type.Boolean()),
};
const CreateAchievement = Type.Object({ key: Key, ...fields }, { additionalProperties: false });
const UpdateAchievement = Type.Partial(Type.Object(fields), {
  additionalProperties: false,
  minProperties: 1,
});
const Achievement = Type.Object({
  key: Type.String(),
  name: Type.String(),
  description: Type.String(),
  category: Type.String(),
  rarity: Rarity,
  icon: Type.Union([Type.String(), Type.Null()]),
  color: Type.Union([Type.String(), Type.Null()]),
  rewards: Type.Array(Reward),
  metric: Type.String(),
  target: Type.Integer(),
  condition: Type.Union([JsonObject, Type.Null()]),
  hidden: Type.Boolean(),
  startsAt: Type.Union([Type.String(), Type.Null()]),
  endsAt: Type.Union([Type.String(), Type.Null()]),
  active: Type.Boolean(),
});
const MyAchievement = Type.Object({
  key: Type.String(),
  name: Type.String(),
  description: Type.Union([Type.String(), Type.Null()], {
    description: "Null while a hidden achievement is locked",
  }),
  category: Type.String(),
  rarity: Rarity,
  icon: Type.Union([Type.String(), Type.Null()]),
  color: Type.Union([Type.String(), Type.Null()]),
  hidden: Type.Boolean(),
  unlocked: Type.Boolean(),
  unlockedAt: Type.Union([Type.String(), Type.Null()]),
  seen: Type.Boolean(),
  progress: Type.Union([Type.Object({ current: Type.Integer(), target: Type.Integer() }), Type.Null()]),
});

export const achievementRoutes: FastifyPluginAsyncTypebox<{
  achievements: AchievementsService;
  guards: Guards;
}> = async (app, { achievements, guards }) => {
  const security = [{ bearer: [] }];

  app.get(
    "/v1/me/achievements",
    {
      preHandler: guards.user,
      schema: {
        tags: ["achievements"],
        security,
        summary: "The achievement catalogue with my unlocks and progress (hidden ones masked until unlocked)",
        response: { 200: Type.Object({ items: Type.Array(MyAchievement) }), ...problems(401, 403) },
      },
    },
    async (request) => ({ items: await achievements.catalogue(currentUser(request).userId) }),
  );

  app.post(
    "/v1/me/achievements/seen",
    {
      preHandler: guards.user,
      schema: {
        tags: ["achievements"],
        security,
        summary: "Mark unlocked achievements as seen",
        body: Type.Object(
          { keys: Type.Array(Key, { minItems: 1, maxItems: 100 }) },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ updated: Type.Integer() }), ...problems(401, 403) },
      },
    },
    async (request) => ({
      updated: await achievements.markSeen(currentUser(request).userId, request.body.keys),
    }),
  );

  await app.register(
    keyedDefinitionRoutes({
      path: "/v1/admin/achievements",
      noun: "achievement",
      schemas: { create: CreateAchievement, update: UpdateAchievement, view: Achievement },
      list: () => achievements.list(),
      save: (actor, meta, input, mode) => achievements.save(actor, meta, input, mode),
    }),
    { guards },
  );
};
