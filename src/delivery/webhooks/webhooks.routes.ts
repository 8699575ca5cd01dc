import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import { actorOf, currentUser, requestMeta, type Guards } from "../../identity/guards.ts";
import {
  IdParams,
  NoContent,
  NullableTimestamp,
  Page,
  PageQuery,
  problems,
  Timestamp,
  Uuid,
} from "../../platform/http/schemas.ts";
import { EVENT_FILTER_PATTERN } from "./filters.ts";
import type { WebhookService } from "./webhooks.service.ts";

const Url = Type.String({
  minLength: 8,
  maxLength: 2000,
  format: "uri",
  pattern: "^https?://",
  description:
    "http(s) URL. Internal addresses (loopback, private, link-local, metadata…) are refused " +
    "(422 webhook.url_forbidden) unless the operator allows their range",
});
const EventTypes = Type.Array(Type.String({ minLength: 1, maxLength: 66, pattern: EVENT_FILTER_PATTERN }), {
  minItems: 1,
  maxItems: 50,
  uniqueItems: true,
  description: "Event types to deliver: exact keys, 'prefix.*', or '*' for all",
});
const Description = Type.String({ maxLength: 500 });

const Endpoint = Type.Object({
  id: Uuid,
  url: Type.String(),
  description: Type.String(),
  eventTypes: Type.Array(Type.String()),
  enabled: Type.Boolean(),
  consecutiveFailures: Type.Integer({ description: "Failed tries in a row; too many disable the endpoint" }),
  disabledAt: NullableTimestamp,
  disabledReason: Type.Union([Type.String(), Type.Null()]),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
const CreatedEndpoint = Type.Intersect([
  Endpoint,
  Type.Object({ secret: Type.String({ description: "Signs every delivery. Shown only now." }) }),
]);
const CreateBody = Type.Object(
  {
    url: Url,
    eventTypes: EventTypes,
    description: Type.Optional(Description),
    enabled: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
const UpdateBody = Type.Object(
  {
    url: Type.Optional(Url),
    eventTypes: Type.Optional(EventTypes),
    description: Type.Optional(Description),
    enabled: Type.Optional(
      Type.Boolean({ description: "true re-enables a disabled endpoint and forgets its failures" }),
    ),
  },
  { additionalProperties: false, minProperties: 1 },
);
const Status = Type.Enum(["pending", "sending", "delivered", "dead"]);
const Delivery = Type.Object({
  id: Uuid,
  eventId: Uuid,
  eventType: Type.String(),
  userId: Uuid,
  status: Status,
  attempts: Type.Integer(),
  nextAttemptAt: NullableTimestamp,
  lastStatusCode: Type.Union([Type.Integer(), Type.Null()]),
  lastError: Type.Union([Type.String(), Type.Null()]),
  deliveredAt: NullableTimestamp,
  createdAt: Timestamp,
  tries: Type.Array(
    Type.Object({
      attempt: Type.Integer(),
      attemptedAt: Timestamp,
      statusCode: Type.Union([Type.Integer(), Type.Null()]),
      durationMs: Type.Integer({ description: "Response time" }),
      ok: Type.Boolean(),
      error: Type.Union([Type.String(), Type.Null()]),
    }),
  ),
});
const DeliveriesQuery = Type.Object(
  { ...PageQuery, status: Type.Optional(Status) },
  { additionalProperties: false },
);
const DeliveryParams = Type.Object({ id: Uuid, deliveryId: Uuid }, { additionalProperties: false });

export const webhookRoutes: FastifyPluginAsyncTypebox<{ webhooks: WebhookService; guards: Guards }> = async (
  app,
  { webhooks, guards },
) => {
  const security = [{ bearer: [] }];
  const tags = ["webhooks"];
  const admin = guards.role("admin");

  app.get(
    "/v1/admin/webhooks",
    {
      preHandler: admin,
      schema: {
        tags,
        security,
        summary: "Webhook endpoints",
        response: { 200: Type.Object({ items: Type.Array(Endpoint) }), ...problems(401, 403) },
      },
    },
    async () => ({ items: await webhooks.list() }),
  );

  app.post(
    "/v1/admin/webhooks",
    {
      preHandler: admin,
      schema: {
        tags,
        security,
        summary: "Add a webhook endpoint (the answer holds its secret, shown once)",
        body: CreateBody,
        response: { 201: CreatedEndpoint, ...problems(401, 403, 422) },
      },
    },
    async (request, reply) =>
      reply
        .status(201)
        .send(await webhooks.create(actorOf(currentUser(request)), requestMeta(request), request.body)),
  );

  app.get(
    "/v1/admin/webhooks/:id",
    {
      preHandler: admin,
      schema: {
        tags,
        security,
        summary: "One webhook endpoint",
        params: IdParams,
        response: { 200: Endpoint, ...problems(401, 403, 404) },
      },
    },
    async (request) => webhooks.get(request.params.id),
  );

  app.patch(
    "/v1/admin/webhooks/:id",
    {
      preHandler: admin,
      schema: {
        tags,
        security,
        summary: "Change, disable or re-enable a webhook endpoint",
        params: IdParams,
        body: UpdateBody,
        response: { 200: Endpoint, ...problems(401, 403, 404, 422) },
      },
    },
    async (request) =>
      webhooks.update(actorOf(currentUser(request)), requestMeta(request), request.params.id, request.body),
  );

  app.delete(
    "/v1/admin/webhooks/:id",
    {
      preHandler: admin,
      schema: {
        tags,
        security,
        summary: "Remove a webhook endpoint and its delivery log",
        params: IdParams,
        response: { 204: NoContent, ...problems(401, 403, 404) },
      },
    },
    async (request, reply) => {
      await webhooks.remove(actorOf(currentUser(request)), requestMeta(request), request.params.id);
      return reply.status(204).send(null);
    },
  );

  app.post(
    "/v1/admin/webhooks/:id/rotate-secret",
    {
      preHandler: admin,
      schema: {
        tags,
        security,
        summary: "Replace the endpoint's secret (the answer holds the new one, shown once)",
        params: IdParams,
        response: { 200: Type.Object({ secret: Type.String() }), ...problems(401, 403, 404) },
      },
    },
    async (request) =>
      webhooks.rotateSecret(actorOf(currentUser(request)), requestMeta(request), request.params.id),
  );

  app.get(
    "/v1/admin/webhooks/:id/deliveries",
    {
      preHandler: admin,
      schema: {
        tags,
        security,
        summary: "The endpoint's delivery log, newest first, with every try",
        params: IdParams,
        querystring: DeliveriesQuery,
        response: { 200: Page(Delivery), ...problems(401, 403, 404) },
      },
    },
    async (request) => webhooks.deliveries(request.params.id, request.query),
  );

  app.post(
    "/v1/admin/webhooks/:id/deliveries/:deliveryId/replay",
    {
      preHandler: admin,
      schema: {
        tags,
        security,
        summary: "Send a delivery again now",
        params: DeliveryParams,
        response: { 204: NoContent, ...problems(401, 403, 404, 409) },
      },
    },
    async (request, reply) => {
      await webhooks.replay(
        actorOf(currentUser(request)),
        requestMeta(request),
        request.params.id,
        request.params.deliveryId,
      );
      return reply.status(204).send(null);
    },
  );
};
