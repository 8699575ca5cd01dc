import { isIP } from "node:net";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { FastifyRequest } from "fastify";
import { Type } from "typebox";
import type { AdminUsersService } from "../identity/admin.service.ts";
import { currentPrincipal, currentUser, principalKey, requestMeta, type Guards } from "../identity/guards.ts";
import type { Database } from "../platform/db/database.ts";
import { decodeCursor, toPage } from "../platform/http/pagination.ts";
import { IdParams, Page, problems } from "../platform/http/schemas.ts";
import { listEvents, type EventRow } from "./events.store.ts";
import type { EventIntake } from "./intake.service.ts";
import type { ClientInfo } from "./plan.ts";
import { ActivityItem, ActivityQuery, BatchBody, EventBody, EventResultSchema } from "./schemas.ts";

/** Where a request came from, as the events table keeps it (an address that is not one is left out). */
function clientOf(request: FastifyRequest): ClientInfo {
  const { ip, userAgent } = requestMeta(request);
  return { ip: ip !== null && isIP(ip) !== 0 ? ip : null, userAgent };
}

const activityView = (e: EventRow) => ({
  id: e.id,
  type: e.type,
  occurredAt: e.occurred_at.toISOString(),
  receivedAt: e.received_at.toISOString(),
  source: e.source,
  parentId: e.parent_id,
  clientIp: e.client_ip,
  userAgent: e.user_agent,
  data: e.data,
  result: e.result,
});

export const eventRoutes: FastifyPluginAsyncTypebox<{
  intake: EventIntake;
  db: Database;
  guards: Guards;
  adminUsers: AdminUsersService;
  playerRateLimitPerMinute: number;
}> = async (app, { intake, db, guards, adminUsers, playerRateLimitPerMinute }) => {
  const tags = ["events"];
  const security: Record<string, string[]>[] = [{ apiKey: [] }, { bearer: [] }];
  // Players are limited per player, whatever header spelling carried the token; app backends (API
  // keys) are trusted to pace themselves. The limit runs after authentication (guards run on request).
  const rateLimit = {
    max: playerRateLimitPerMinute,
    timeWindow: "1 minute",
    hook: "preValidation" as const,
    allowList: (request: FastifyRequest) => request.principal?.kind === "apiKey",
    keyGenerator: principalKey,
  };

  app.post(
    "/v1/events",
    {
      preHandler: guards.any,
      config: { rateLimit },
      schema: {
        tags,
        security,
        summary: "Send one event",
        description:
          "App backends (API key with events:write) may send any declared type for any player; players only " +
          "client-writable types, for themselves. The answer lists every effect. Repeating an idempotencyKey " +
          "returns the first answer with duplicate: true.",
        body: EventBody,
        response: { 200: EventResultSchema, 201: EventResultSchema, ...problems(401, 403, 404, 409, 422) },
      },
    },
    async (request, reply) => {
      const result = await intake.submit(currentPrincipal(request), request.body, clientOf(request));
      return reply.status(result.duplicate ? 200 : 201).send(result);
    },
  );

  app.post(
    "/v1/events/batch",
    {
      preHandler: guards.any,
      config: { rateLimit },
      schema: {
        tags,
        security,
        summary: "Send up to 1,000 events, applied in order, all or nothing",
        description:
          "A batch idempotencyKey gives each event without its own key the key '<batch key>#<index>', so " +
          "replaying the batch returns the first results.",
        body: BatchBody,
        response: {
          200: Type.Object({ results: Type.Array(EventResultSchema) }),
          ...problems(401, 403, 404, 409, 422),
        },
      },
    },
    async (request) => ({
      results: await intake.submitBatch(
        currentPrincipal(request),
        request.body.events,
        request.body.idempotencyKey,
        clientOf(request),
      ),
    }),
  );

  app.post(
    "/v1/admin/events/dry-run",
    {
      preHandler: guards.role("admin"),
      schema: {
        tags: ["admin"],
        security: [{ bearer: [] }],
        summary: "What an event would do, without writing anything",
        body: EventBody,
        response: { 200: EventResultSchema, ...problems(401, 403, 404, 409, 422) },
      },
    },
    async (request) => {
      const admin = currentUser(request);
      // Dry runs evaluate like an app backend would send the event: any type, any player.
      return intake.dryRun({ kind: "apiKey", keyId: admin.userId, scopes: ["events:write"] }, request.body);
    },
  );

  const activity = async (userId: string, query: { type?: string; cursor?: string; limit: number }) => {
    const rows = await db.asUser(userId, (tx) =>
      listEvents(tx, userId, { type: query.type, before: decodeCursor(query.cursor), limit: query.limit }),
    );
    return toPage(rows, query.limit, (e) => ({ at: e.cursor_at, id: e.id }), activityView);
  };

  app.get(
    "/v1/me/activity",
    {
      preHandler: guards.user,
      schema: {
        tags,
        security: [{ bearer: [] }],
        summary: "My events, newest first",
        querystring: ActivityQuery,
        response: { 200: Page(ActivityItem), ...problems(401, 403) },
      },
    },
    async (request) => activity(currentUser(request).userId, request.query),
  );

  app.get(
    "/v1/admin/users/:id/activity",
    {
      preHandler: guards.role("admin"),
      schema: {
        tags: ["admin"],
        security: [{ bearer: [] }],
        summary: "A player's events, newest first",
        params: IdParams,
        querystring: ActivityQuery,
        response: { 200: Page(ActivityItem), ...problems(401, 403, 404) },
      },
    },
    async (request) => {
      const page = await activity(request.params.id, request.query); // a bad cursor is a 400 first
      await adminUsers.get(request.params.id); // then unknown players are a 404
      return page;
    },
  );
};
