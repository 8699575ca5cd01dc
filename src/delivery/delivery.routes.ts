import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import type { Guards } from "../identity/guards.ts";
import { problems, Timestamp, Uuid } from "../platform/http/schemas.ts";
import type { Dispatcher } from "./dispatcher.ts";

const DeadLetter = Type.Object({
  id: Type.Integer({ description: "Outbox row id" }),
  userId: Uuid,
  topic: Type.String(),
  eventId: Type.String(),
  eventType: Type.String(),
  attempts: Type.Integer(),
  lastError: Type.Union([Type.String(), Type.Null()]),
  deadAt: Timestamp,
  createdAt: Timestamp,
});
const DeadLettersQuery = Type.Object(
  {
    limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
    after: Type.Optional(
      Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: "Last id seen" }),
    ),
  },
  { additionalProperties: false },
);
const RetryBody = Type.Object(
  {
    ids: Type.Array(Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }), {
      minItems: 1,
      maxItems: 1000,
      uniqueItems: true,
    }),
  },
  { additionalProperties: false },
);

/** Admin view of the dispatcher's dead letters: outbox rows that failed every try. */
export const deliveryAdminRoutes: FastifyPluginAsyncTypebox<{
  dispatcher: Dispatcher;
  guards: Guards;
}> = async (app, { dispatcher, guards }) => {
  const security = [{ bearer: [] }];
  const tags = ["admin"];
  const admin = guards.role("admin");

  app.get(
    "/v1/admin/outbox/dead-letters",
    {
      preHandler: admin,
      schema: {
        tags,
        security,
        summary: "Outbox rows the dispatcher gave up on, oldest first",
        querystring: DeadLettersQuery,
        response: {
          200: Type.Object({
            items: Type.Array(DeadLetter),
            next: Type.Union([Type.Integer(), Type.Null()]),
          }),
          ...problems(401, 403),
        },
      },
    },
    async (request) => {
      const { limit, after } = request.query;
      const rows = await dispatcher.deadLetters(after ?? null, limit + 1);
      const page = rows.slice(0, limit);
      return {
        items: page.map((r) => ({
          id: r.id,
          userId: r.user_id,
          topic: r.topic,
          eventId: r.payload.eventId,
          eventType: r.payload.type,
          attempts: r.attempts,
          lastError: r.last_error,
          deadAt: r.dead_at.toISOString(),
          createdAt: r.created_at.toISOString(),
        })),
        next: rows.length > limit ? (page[page.length - 1]?.id ?? null) : null,
      };
    },
  );

  app.post(
    "/v1/admin/outbox/dead-letters/retry",
    {
      preHandler: admin,
      schema: {
        tags,
        security,
        summary: "Put dead letters back in their players' queues, to be dispatched now",
        body: RetryBody,
        response: { 200: Type.Object({ requeued: Type.Array(Type.Integer()) }), ...problems(401, 403) },
      },
    },
    async (request) => ({ requeued: await dispatcher.requeue(request.body.ids) }),
  );
};
