import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import { Condition, CurrencyCode, DefinitionKey, EventKey, Nullable, Rewards } from "../engine/schemas.ts";
import { actorOf, currentUser, requestMeta, type Guards } from "../identity/guards.ts";
import { keyedDefinitionRoutes } from "../engine/keyed-routes.ts";
import { IdParams, problems, Timestamp } from "../platform/http/schemas.ts";
import type { StreaksService } from "./streaks.service.ts";

const Cadence = Type.Enum(["day", "week", "month"]);
const Milestone = Type.Object(
  { count: Type.Integer({ minimum: 1, maximum: 100_000 }), rewards: Rewards },
  { additionalProperties: false },
);
const fields = {
  name: Type.String({ minLength: 1, maxLength: 100 }),
  description: Type.Optional(Type.String({ maxLength: 1000 })),
  category: Type.Optional(Type.String({ minLength: 1, maxLength: 50 })),
  cadence: Cadence,
  eventTypes: Type.Array(EventKey, { minItems: 1, maxItems: 20, uniqueItems: true }),
  condition: Type.Optional(Condition),
  graceHours: Type.Optional(
    Type.Integer({
      minimum: 0,
      maximum: 168,
      description: "A late event arriving this long after its period ended still counts for that period",
    }),
  ),
  freezeCurrency: Type.Optional(
    Nullable(CurrencyCode, { description: "Currency whose tokens cover missed periods" }),
  ),
  milestones: Type.Optional(Type.Array(Milestone, { maxItems: 50 })),
  active: Type.Optional(Type.Boolean()),
};
const CreateStreak = Type.Object({ key: DefinitionKey, ...fields }, { additionalProperties: false });
const UpdateStreak = Type.Partial(Type.Object(fields), { additionalProperties: false, minProperties: 1 });
const Streak = Type.Object({
  key: Type.String(),
  name: Type.String(),
  description: Type.String(),
  category: Type.String(),
  cadence: Cadence,
  eventTypes: Type.Array(Type.String()),
  condition: Condition,
  graceHours: Type.Integer(),
  freezeCurrency: Nullable(Type.String()),
  milestones: Type.Array(Milestone),
  active: Type.Boolean(),
});
const MyStreak = Type.Object({
  key: Type.String(),
  name: Type.String(),
  cadence: Cadence,
  current: Type.Integer({ description: "0 once the streak can no longer be saved" }),
  longest: Type.Integer(),
  safe: Type.Boolean({ description: "The current period is already counted" }),
  atRisk: Type.Boolean({ description: "Alive, but the current period is not counted yet" }),
  periodEndsAt: Timestamp,
  secondsLeft: Type.Integer({ description: "Until the current period ends" }),
  freezesNeeded: Type.Integer({ description: "Tokens the next activity will spend on missed periods" }),
  freezeTokens: Nullable(
    Type.Object({ currency: Type.String(), balance: Type.Integer(), max: Nullable(Type.Integer()) }),
  ),
  freezesUsed: Type.Integer(),
  protectedUntil: Nullable(Timestamp),
  startedAt: Nullable(Timestamp),
  lastCountedAt: Nullable(Timestamp),
  milestones: Type.Array(Type.Object({ count: Type.Integer(), rewards: Rewards, reached: Type.Boolean() })),
});
const Protection = Type.Object({
  id: Type.Integer(),
  streak: Nullable(Type.String()),
  startsAt: Timestamp,
  endsAt: Timestamp,
});

export const streakRoutes: FastifyPluginAsyncTypebox<{ streaks: StreaksService; guards: Guards }> = async (
  app,
  { streaks, guards },
) => {
  const security = [{ bearer: [] }];
  const admin = guards.role("admin");

  app.get(
    "/v1/me/streaks",
    {
      preHandler: guards.user,
      schema: {
        tags: ["streaks"],
        security,
        summary: "My streaks: counts, risk and time left, freeze tokens, protection and milestones",
        response: { 200: Type.Object({ items: Type.Array(MyStreak) }), ...problems(401, 403) },
      },
    },
    async (request) => ({ items: await streaks.mine(currentUser(request).userId) }),
  );

  await app.register(
    keyedDefinitionRoutes({
      path: "/v1/admin/streaks",
      noun: "streak",
      schemas: { create: CreateStreak, update: UpdateStreak, view: Streak },
      // A cadence cannot change once players have the streak.
      updateProblems: [409],
      list: () => streaks.list(),
      save: (actor, meta, input, mode) => streaks.save(actor, meta, input, mode),
    }),
    { guards },
  );

  app.post(
    "/v1/admin/users/:id/streak-protections",
    {
      preHandler: admin,
      schema: {
        tags: ["admin"],
        security,
        summary: "Protect a player's streak (or all of them) for a window",
        params: IdParams,
        body: Type.Object(
          {
            streak: Type.Optional(DefinitionKey),
            startsAt: Type.Optional(Timestamp),
            hours: Type.Integer({ minimum: 1, maximum: 720 }),
          },
          { additionalProperties: false },
        ),
        response: { 201: Protection, ...problems(401, 403, 404) },
      },
    },
    async (request, reply) =>
      reply
        .status(201)
        .send(
          await streaks.protect(
            actorOf(currentUser(request)),
            requestMeta(request),
            request.params.id,
            request.body,
          ),
        ),
  );
};
