import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import { actorOf, currentUser, requestMeta, type Guards } from "../identity/guards.ts";
import { problems, Timestamp, Uuid } from "../platform/http/schemas.ts";
import type { CurrencyRow, DefinitionsService } from "./definitions.service.ts";
import { CurrencyCode, EventKey, JsonObject } from "./schemas.ts";
import { LIMITS } from "../platform/limits.ts";

const Field = Type.String({
  pattern: "^data(\\.[A-Za-z0-9_]+)+$",
  maxLength: 100,
  description: "e.g. data.minutes",
});
const StatName = Type.String({ pattern: "^[a-z][a-z0-9_.]*$", maxLength: 100 });

const Award = Type.Object(
  {
    currency: CurrencyCode,
    amount: Type.Optional(Type.Integer({ minimum: 1, maximum: LIMITS.award })),
    field: Type.Optional(Field),
    multiplier: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1_000_000 })),
    max: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: LIMITS.award,
        description: `Without it, an event whose field (times multiplier) passes ${LIMITS.award} is refused`,
      }),
    ),
  },
  { additionalProperties: false },
);
const Counter = Type.Object(
  {
    stat: StatName,
    amount: Type.Optional(Type.Integer({ minimum: -1_000_000, maximum: 1_000_000 })),
    // A field's value is checked when the event arrives: at most ±LIMITS.counterStep.
    field: Type.Optional(Field),
  },
  { additionalProperties: false },
);
const Cap = Type.Object(
  {
    currency: CurrencyCode,
    period: Type.Enum(["day", "week", "month"]),
    max: Type.Integer({ minimum: 0, maximum: LIMITS.award }),
  },
  { additionalProperties: false },
);

const ruleFields = {
  key: Type.String({ pattern: "^[a-z0-9][a-z0-9_.-]{0,63}$" }),
  name: Type.String({ minLength: 1, maxLength: 200 }),
  description: Type.Optional(Type.Union([Type.String({ maxLength: 1000 }), Type.Null()])),
  eventType: EventKey,
  condition: Type.Optional(
    Type.Union([JsonObject, Type.Null()], { description: "MongoDB-style query over {event, player}" }),
  ),
  awards: Type.Optional(Type.Array(Award, { maxItems: 20 })),
  counters: Type.Optional(Type.Array(Counter, { maxItems: 20 })),
  caps: Type.Optional(Type.Array(Cap, { maxItems: 10 })),
  priority: Type.Optional(Type.Integer({ minimum: -1000, maximum: 1000 })),
  active: Type.Optional(Type.Boolean()),
};
const CreateRule = Type.Object(ruleFields, { additionalProperties: false });
const UpdateRule = Type.Partial(CreateRule, { additionalProperties: false, minProperties: 1 });

const Rule = Type.Object({
  id: Uuid,
  key: Type.String(),
  name: Type.String(),
  description: Type.Union([Type.String(), Type.Null()]),
  eventType: Type.String(),
  condition: Type.Union([JsonObject, Type.Null()]),
  awards: Type.Array(Award),
  counters: Type.Array(Counter),
  caps: Type.Array(Cap),
  priority: Type.Integer(),
  active: Type.Boolean(),
  version: Type.Integer(),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});

const eventTypeFields = {
  description: Type.Optional(Type.Union([Type.String({ maxLength: 1000 }), Type.Null()])),
  dataSchema: Type.Optional(JsonObject),
  clientWritable: Type.Optional(Type.Boolean()),
  clientDailyCap: Type.Optional(Type.Union([Type.Integer({ minimum: 1, maximum: 1_000_000 }), Type.Null()])),
  active: Type.Optional(Type.Boolean()),
};
const CreateEventType = Type.Object({ key: EventKey, ...eventTypeFields }, { additionalProperties: false });
const UpdateEventType = Type.Object(eventTypeFields, { additionalProperties: false, minProperties: 1 });
const EventType = Type.Object({
  key: Type.String(),
  description: Type.Union([Type.String(), Type.Null()]),
  dataSchema: JsonObject,
  clientWritable: Type.Boolean(),
  clientDailyCap: Type.Union([Type.Integer(), Type.Null()]),
  system: Type.Boolean(),
  active: Type.Boolean(),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});

const Currency = Type.Object({
  code: Type.String(),
  name: Type.String(),
  description: Type.Union([Type.String(), Type.Null()]),
  allowNegative: Type.Boolean(),
  maxBalance: Type.Union([Type.Integer(), Type.Null()], {
    description: "The most one player may hold; awards beyond it are cut",
  }),
});
const currencyView = (c: CurrencyRow) => ({
  code: c.code,
  name: c.name,
  description: c.description,
  allowNegative: c.allow_negative,
  maxBalance: c.max_balance,
});
const CreateCurrency = Type.Object(
  {
    code: CurrencyCode,
    name: Type.String({ minLength: 1, maxLength: 100 }),
    description: Type.Optional(Type.String({ maxLength: 1000 })),
    allowNegative: Type.Optional(Type.Boolean()),
    maxBalance: Type.Optional(Type.Integer({ minimum: 1, maximum: LIMITS.maxBalance })),
  },
  { additionalProperties: false },
);

const LevelCurve = Type.Union([
  Type.Object(
    {
      kind: Type.Literal("formula"),
      base: Type.Number({ exclusiveMinimum: 0, maximum: 1_000_000 }),
      exponent: Type.Number({ minimum: 1, maximum: 4 }),
      maxLevel: Type.Integer({ minimum: 2, maximum: 10000 }),
    },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      kind: Type.Literal("table"),
      thresholds: Type.Array(Type.Integer({ minimum: 0, maximum: 1_000_000_000_000 }), {
        minItems: 2,
        maxItems: 10000,
      }),
      maxLevel: Type.Integer({ minimum: 2, maximum: 10000 }),
    },
    { additionalProperties: false },
  ),
]);

export const definitionRoutes: FastifyPluginAsyncTypebox<{
  service: DefinitionsService;
  guards: Guards;
}> = async (app, { service, guards }) => {
  const tags = ["admin"];
  const security = [{ bearer: [] }];
  const admin = guards.role("admin");
  const who = (request: Parameters<typeof currentUser>[0]) =>
    [actorOf(currentUser(request)), requestMeta(request)] as const;

  app.get(
    "/v1/event-types",
    {
      preHandler: guards.any,
      schema: {
        tags: ["events"],
        security: [{ apiKey: [] }, { bearer: [] }],
        summary: "The declared event types (which ones players may send, and their data schemas)",
        response: { 200: Type.Object({ items: Type.Array(EventType) }), ...problems(401, 403) },
      },
    },
    async () => ({ items: (await service.listEventTypes()).filter((t) => t.active) }),
  );

  app.get(
    "/v1/admin/event-types",
    {
      preHandler: admin,
      schema: {
        tags,
        security,
        summary: "All event types",
        response: { 200: Type.Object({ items: Type.Array(EventType) }), ...problems(401, 403) },
      },
    },
    async () => ({ items: await service.listEventTypes() }),
  );

  app.post(
    "/v1/admin/event-types",
    {
      preHandler: admin,
      schema: {
        tags,
        security,
        summary: "Declare an event type",
        body: CreateEventType,
        response: { 201: EventType, ...problems(401, 403, 409, 422) },
      },
    },
    async (request, reply) =>
      reply.status(201).send(await service.saveEventType(...who(request), request.body, "create")),
  );

  app.patch(
    "/v1/admin/event-types/:key",
    {
      preHandler: admin,
      schema: {
        tags,
        security,
        summary: "Change an event type",
        params: Type.Object({ key: EventKey }, { additionalProperties: false }),
        body: UpdateEventType,
        response: { 200: EventType, ...problems(401, 403, 404, 422) },
      },
    },
    async (request) =>
      service.saveEventType(...who(request), { ...request.body, key: request.params.key }, "update"),
  );

  app.get(
    "/v1/admin/rules",
    {
      preHandler: admin,
      schema: {
        tags,
        security,
        summary: "Rules, optionally for one event type",
        querystring: Type.Object({ eventType: Type.Optional(EventKey) }, { additionalProperties: false }),
        response: { 200: Type.Object({ items: Type.Array(Rule) }), ...problems(401, 403) },
      },
    },
    async (request) => ({ items: await service.listRules(request.query) }),
  );

  app.post(
    "/v1/admin/rules",
    {
      preHandler: admin,
      schema: {
        tags,
        security,
        summary: "Create a rule",
        body: CreateRule,
        response: { 201: Rule, ...problems(401, 403, 409, 422) },
      },
    },
    async (request, reply) => reply.status(201).send(await service.createRule(...who(request), request.body)),
  );

  const IdOnly = Type.Object({ id: Uuid }, { additionalProperties: false });
  app.get(
    "/v1/admin/rules/:id",
    {
      preHandler: admin,
      schema: {
        tags,
        security,
        summary: "One rule",
        params: IdOnly,
        response: { 200: Rule, ...problems(401, 403, 404) },
      },
    },
    async (request) => service.getRule(request.params.id),
  );

  app.patch(
    "/v1/admin/rules/:id",
    {
      preHandler: admin,
      schema: {
        tags,
        security,
        summary: "Change a rule (a new version)",
        params: IdOnly,
        body: UpdateRule,
        response: { 200: Rule, ...problems(401, 403, 404, 409, 422) },
      },
    },
    async (request) => service.updateRule(...who(request), request.params.id, request.body),
  );

  app.delete(
    "/v1/admin/rules/:id",
    {
      preHandler: admin,
      schema: {
        tags,
        security,
        summary: "Deactivate a rule",
        params: IdOnly,
        response: { 200: Rule, ...problems(401, 403, 404) },
      },
    },
    async (request) => service.deactivateRule(...who(request), request.params.id),
  );

  app.get(
    "/v1/admin/rules/:id/versions",
    {
      preHandler: admin,
      schema: {
        tags,
        security,
        summary: "Every version of a rule, newest first",
        params: IdOnly,
        response: {
          200: Type.Object({
            items: Type.Array(
              Type.Object({
                version: Type.Integer(),
                definition: JsonObject,
                changedBy: Type.Union([Uuid, Type.Null()]),
                changedAt: Timestamp,
              }),
            ),
          }),
          ...problems(401, 403, 404),
        },
      },
    },
    async (request) => ({
      items: (await service.ruleVersions(request.params.id)).map((v) => ({
        version: v.version,
        definition: v.definition,
        changedBy: v.changed_by,
        changedAt: v.changed_at.toISOString(),
      })),
    }),
  );

  app.get(
    "/v1/admin/currencies",
    {
      preHandler: admin,
      schema: {
        tags,
        security,
        summary: "Currencies",
        response: { 200: Type.Object({ items: Type.Array(Currency) }), ...problems(401, 403) },
      },
    },
    async () => ({
      items: (await service.listCurrencies()).map(currencyView),
    }),
  );

  app.post(
    "/v1/admin/currencies",
    {
      preHandler: admin,
      schema: {
        tags,
        security,
        summary: "Add a currency",
        body: CreateCurrency,
        response: { 201: Currency, ...problems(401, 403, 409) },
      },
    },
    async (request, reply) => {
      const c = await service.createCurrency(...who(request), request.body);
      return reply.status(201).send(currencyView(c));
    },
  );

  app.get(
    "/v1/admin/level-curve",
    {
      preHandler: admin,
      schema: {
        tags,
        security,
        summary: "The level curve",
        response: { 200: LevelCurve, ...problems(401, 403) },
      },
    },
    async () => service.levelCurve(),
  );

  app.put(
    "/v1/admin/level-curve",
    {
      preHandler: admin,
      schema: {
        tags,
        security,
        summary: "Replace the level curve (levels follow on each player's next event)",
        body: LevelCurve,
        response: { 200: LevelCurve, ...problems(401, 403, 422) },
      },
    },
    async (request) => service.setLevelCurve(...who(request), request.body),
  );
};
