import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import { keyedDefinitionRoutes } from "../engine/keyed-routes.ts";
import { CurrencyCode, DefinitionKey, EventKey, IdempotencyKey, Nullable } from "../engine/schemas.ts";
import { currentPrincipal, currentUser, type Guards } from "../identity/guards.ts";
import { problems, Timestamp, Uuid } from "../platform/http/schemas.ts";
import type { LeaderboardsService } from "./leaderboards.service.ts";
import { LIMITS } from "../platform/limits.ts";

const Source = Type.Union(
  [
    Type.Object(
      { kind: Type.Literal("currency"), currency: CurrencyCode },
      { additionalProperties: false, description: "A currency earned in the period" },
    ),
    Type.Object(
      { kind: Type.Literal("balance"), currency: CurrencyCode },
      {
        additionalProperties: false,
        description:
          "A balance as it stands (seed 004's current score: it goes down on spends); operator latest",
      },
    ),
    Type.Object(
      { kind: Type.Literal("counter"), stat: Type.String({ pattern: "^[a-z][a-z0-9_.]*$", maxLength: 100 }) },
      { additionalProperties: false, description: "A counter bumped in the period" },
    ),
    Type.Object({ kind: Type.Literal("level") }, { additionalProperties: false, description: "The level" }),
    Type.Object(
      {
        kind: Type.Literal("event"),
        eventType: EventKey,
        field: Type.String({ pattern: "^data(\\.[A-Za-z0-9_]+)+$", maxLength: 100 }),
      },
      { additionalProperties: false, description: "A number in events of a type, e.g. data.wpm" },
    ),
    Type.Object(
      { kind: Type.Literal("submitted") },
      { additionalProperties: false, description: "Scores an app backend submits" },
    ),
  ],
  { description: "What the board ranks" },
);
const Period = Type.Enum(["day", "week", "month", "all"]);
const Sort = Type.Enum(["desc", "asc"], { description: "desc: higher ranks first" });
const Operator = Type.Enum(["sum", "best", "latest"]);
const fields = {
  name: Type.String({ minLength: 1, maxLength: 100 }),
  description: Type.Optional(Type.String({ maxLength: 1000 })),
  category: Type.Optional(Type.String({ minLength: 1, maxLength: 50 })),
  source: Source,
  period: Period,
  timeZone: Type.Optional(
    Type.String({ minLength: 1, maxLength: 64, description: "IANA zone of the periods" }),
  ),
  sort: Type.Optional(Sort),
  operator: Operator,
  minScore: Type.Optional(
    Nullable(
      Type.Number({
        minimum: -LIMITS.score,
        maximum: LIMITS.score,
        description: "Entries below it are not ranked",
      }),
    ),
  ),
  snapshotSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  active: Type.Optional(Type.Boolean()),
};
const Board = Type.Object({
  key: Type.String(),
  name: Type.String(),
  description: Type.String(),
  category: Type.String(),
  source: Source,
  period: Period,
  timeZone: Type.String(),
  sort: Sort,
  operator: Operator,
  minScore: Nullable(Type.Number()),
  snapshotSize: Type.Integer(),
  active: Type.Boolean(),
});
const Row = Type.Object({
  rank: Type.Integer({ description: "1 for the best" }),
  userId: Uuid,
  displayName: Type.String(),
  score: Type.Number(),
  level: Type.Integer(),
  badgesCount: Type.Integer({ description: "Achievements unlocked" }),
  reachedAt: Timestamp,
});
const PeriodQuery = Type.String({
  pattern: "^(current|all|\\d{4}-\\d{2}-\\d{2}|\\d{4}-W\\d{2}|\\d{4}-\\d{2})$",
  description: "current (default) or a period key: 2026-03-08, 2026-W10, 2026-03, all",
});
const KeyParams = Type.Object({ key: DefinitionKey }, { additionalProperties: false });
const Standing = Type.Object({
  board: Type.String(),
  period: Type.String(),
  rank: Nullable(Type.Integer()),
  entry: Nullable(Row),
  neighbours: Type.Array(Row),
  total: Type.Integer({ description: "Players ranked in the period" }),
});
const standingQuery = Type.Object(
  {
    period: Type.Optional(PeriodQuery),
    around: Type.Integer({ minimum: 0, maximum: 50, default: 5, description: "Neighbours on each side" }),
  },
  { additionalProperties: false },
);

export const leaderboardRoutes: FastifyPluginAsyncTypebox<{
  leaderboards: LeaderboardsService;
  guards: Guards;
}> = async (app, { leaderboards, guards }) => {
  const security: Record<string, string[]>[] = [{ bearer: [] }, { apiKey: [] }];
  const tags = ["leaderboards"];

  app.get(
    "/v1/leaderboards",
    {
      preHandler: guards.any,
      schema: {
        tags,
        security,
        summary: "The active leaderboards",
        response: { 200: Type.Object({ items: Type.Array(Board) }), ...problems(401, 403) },
      },
    },
    async () => ({ items: await leaderboards.list(true) }),
  );

  app.get(
    "/v1/leaderboards/:key",
    {
      preHandler: guards.any,
      schema: {
        tags,
        security,
        summary: "A page of a board period, best first (exact ranks)",
        params: KeyParams,
        querystring: Type.Object(
          {
            period: Type.Optional(PeriodQuery),
            limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
            cursor: Type.Optional(Type.String({ maxLength: 300, pattern: "^[A-Za-z0-9_-]+$" })),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            board: Type.String(),
            period: Type.String(),
            closed: Type.Boolean(),
            items: Type.Array(Row),
            nextCursor: Nullable(Type.String()),
          }),
          ...problems(401, 403, 404),
        },
      },
    },
    async (request) => leaderboards.page(request.params.key, request.query),
  );

  app.get(
    "/v1/leaderboards/:key/me",
    {
      preHandler: guards.user,
      schema: {
        tags,
        security: [{ bearer: [] }],
        summary: "My rank on a board period and my neighbours",
        params: KeyParams,
        querystring: standingQuery,
        response: { 200: Standing, ...problems(401, 403, 404) },
      },
    },
    async (request) => leaderboards.standing(request.params.key, currentUser(request).userId, request.query),
  );

  app.get(
    "/v1/leaderboards/:key/users/:id",
    {
      preHandler: guards.any,
      schema: {
        tags,
        security,
        summary: "A player's rank on a board period and their neighbours",
        params: Type.Object({ key: DefinitionKey, id: Uuid }, { additionalProperties: false }),
        querystring: standingQuery,
        response: { 200: Standing, ...problems(401, 403, 404) },
      },
    },
    async (request) => leaderboards.standing(request.params.key, request.params.id, request.query),
  );

  app.post(
    "/v1/leaderboards/:key/ranks",
    {
      preHandler: guards.any,
      schema: {
        tags,
        security,
        summary: "Ranks of several players (a friends board)",
        params: KeyParams,
        body: Type.Object(
          {
            userIds: Type.Array(Uuid, { minItems: 1, maxItems: 500, uniqueItems: true }),
            period: Type.Optional(PeriodQuery),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({ board: Type.String(), period: Type.String(), items: Type.Array(Row) }),
          ...problems(401, 403, 404),
        },
      },
    },
    async (request) => leaderboards.ranksOf(request.params.key, request.body.userIds, request.body.period),
  );

  app.post(
    "/v1/leaderboards/:key/scores",
    {
      preHandler: guards.scope("scores:write"),
      schema: {
        tags,
        security,
        summary: "Submit a player's score to a board fed by submitted scores (app backends)",
        params: KeyParams,
        body: Type.Object(
          {
            userId: Uuid,
            score: Type.Number({ minimum: -LIMITS.score, maximum: LIMITS.score }),
            occurredAt: Type.Optional(Timestamp),
            idempotencyKey: IdempotencyKey,
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            board: Type.String(),
            period: Type.String(),
            userId: Uuid,
            score: Type.Number({ description: "The player's entry after the submission" }),
            changed: Type.Boolean(),
            duplicate: Type.Boolean(),
          }),
          ...problems(401, 403, 404, 409, 422),
        },
      },
    },
    async (request) => {
      const principal = currentPrincipal(request);
      const keyId = principal.kind === "apiKey" ? principal.keyId : `admin:${principal.userId}`;
      return leaderboards.submit(request.params.key, { keyId }, request.body);
    },
  );

  app.get(
    "/v1/leaderboards/:key/snapshots",
    {
      preHandler: guards.any,
      schema: {
        tags,
        security,
        summary:
          "Snapshots of a board, newest first: each closed period's top entries, and scheduled ones of all-time periods (seed 004)",
        params: KeyParams,
        querystring: Type.Object(
          {
            limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
            cursor: Type.Optional(Type.String({ maxLength: 40, pattern: "^[0-9]{1,15}-[A-Za-z0-9-]+$" })),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            items: Type.Array(
              Type.Object({
                period: Type.String(),
                startsAt: Nullable(Timestamp),
                endsAt: Nullable(Timestamp),
                takenAt: Timestamp,
                final: Type.Boolean({ description: "The snapshot the period closed with" }),
                closedAt: Nullable(Timestamp),
                entries: Type.Integer(),
                top: Type.Array(
                  Type.Object({
                    rank: Type.Integer(),
                    userId: Uuid,
                    displayName: Type.String(),
                    score: Type.Number(),
                    reachedAt: Timestamp,
                  }),
                ),
              }),
            ),
            nextCursor: Nullable(Type.String()),
          }),
          ...problems(401, 403, 404),
        },
      },
    },
    async (request) => leaderboards.snapshots(request.params.key, request.query),
  );

  await app.register(
    keyedDefinitionRoutes({
      path: "/v1/admin/leaderboards",
      noun: "leaderboard",
      schemas: {
        create: Type.Object({ key: DefinitionKey, ...fields }, { additionalProperties: false }),
        update: Type.Partial(Type.Object(fields), { additionalProperties: false, minProperties: 1 }),
        view: Board,
      },
      // What a board ranks cannot change once it has entries.
      updateProblems: [409],
      list: () => leaderboards.list(),
      save: (actor, meta, input, mode) => leaderboards.save(actor, meta, input, mode),
    }),
    { guards },
  );
};
