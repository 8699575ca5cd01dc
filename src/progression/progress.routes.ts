import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import { currentUser, type Guards } from "../identity/guards.ts";
import type { Clock } from "../platform/clock.ts";
import type { Database } from "../platform/db/database.ts";
import { IdParams, problems, Uuid } from "../platform/http/schemas.ts";
import { dayKey } from "../platform/time/periods.ts";
import type { ProgressService } from "./progress.service.ts";

const Progress = Type.Object({
  userId: Uuid,
  level: Type.Integer(),
  totalXp: Type.Integer(),
  xpIntoLevel: Type.Integer(),
  xpToNextLevel: Type.Integer(),
  levelStartXp: Type.Integer(),
  nextLevelXp: Type.Union([Type.Integer(), Type.Null()]),
  score: Type.Integer(),
  lifetimeScore: Type.Integer(),
  coins: Type.Integer(),
  recipesUnlocked: Type.Integer(),
  hasClaimedGift: Type.Boolean(),
  eventsCount: Type.Integer(),
});

const PublicProgress = Type.Object({
  userId: Uuid,
  level: Type.Integer(),
  totalXp: Type.Integer(),
  score: Type.Integer(),
});

const Day = Type.String({ format: "date" });
const StatsQuery = Type.Object(
  {
    stat: Type.Optional(Type.String({ pattern: "^[a-z][a-z0-9_.]*$", maxLength: 100 })),
    from: Type.Optional(Day),
    to: Type.Optional(Day),
  },
  { additionalProperties: false },
);
const Stats = Type.Object({
  from: Type.String(),
  to: Type.String(),
  totals: Type.Record(Type.String(), Type.Integer(), { description: "Lifetime totals" }),
  daily: Type.Array(Type.Object({ stat: Type.String(), day: Type.String(), value: Type.Integer() })),
});

export const progressRoutes: FastifyPluginAsyncTypebox<{
  progress: ProgressService;
  guards: Guards;
  db: Database;
  clock: Clock;
}> = async (app, { progress, guards, db, clock }) => {
  const tags = ["progression"];

  app.get(
    "/v1/me/progress",
    {
      preHandler: guards.user,
      schema: {
        tags,
        security: [{ bearer: [] }],
        summary: "My level, XP, score and coins",
        response: { 200: Progress, ...problems(401, 403) },
      },
    },
    async (request) => progress.progress(currentUser(request).userId),
  );

  app.get(
    "/v1/users/:id/progress",
    {
      preHandler: guards.scope("users:read"),
      schema: {
        tags,
        security: [{ apiKey: [] }, { bearer: [] }],
        summary: "A player's public progress (API key with users:read, or an admin)",
        params: IdParams,
        response: { 200: PublicProgress, ...problems(401, 403, 404) },
      },
    },
    async (request) => progress.publicProgress(request.params.id),
  );

  app.get(
    "/v1/me/stats",
    {
      preHandler: guards.user,
      schema: {
        tags,
        security: [{ bearer: [] }],
        summary: "My statistics: daily counters (days in my time zone) and lifetime totals",
        description: "Without from/to: the last 30 days. At most 366 days per request.",
        querystring: StatsQuery,
        response: { 200: Stats, ...problems(401, 403) },
      },
    },
    async (request) => {
      const userId = currentUser(request).userId;
      const zone = await db.asUser(userId, (tx) =>
        tx.maybeOne<{ time_zone: string }>(`SELECT time_zone FROM user_profiles WHERE user_id = $1`, [
          userId,
        ]),
      );
      return progress.stats(
        userId,
        request.query,
        dayKey(clock.now(), { timeZone: zone?.time_zone ?? "UTC" }),
      );
    },
  );
};
