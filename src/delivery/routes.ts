import type { FastifyPluginAsync } from "fastify";
import type { Guards } from "../identity/guards.ts";
import { deliveryAdminRoutes } from "./delivery.routes.ts";
import type { Delivery } from "./index.ts";
import { webhookRoutes } from "./webhooks/webhooks.routes.ts";
import { notificationRoutes } from "./notifications/notifications.routes.ts";
import { streamRoutes } from "./stream/stream.routes.ts";
import type { AccessTokens } from "../identity/tokens.ts";

/** Every delivery route: dead letters, webhooks, notifications, the stream. */
export const deliveryRoutes: FastifyPluginAsync<{
  delivery: Delivery;
  guards: Guards;
  tokens: AccessTokens;
}> = async (app, { delivery, guards, tokens }) => {
  await app.register(deliveryAdminRoutes, { dispatcher: delivery.dispatcher, guards });
  await app.register(webhookRoutes, { webhooks: delivery.webhooks, guards });
  await app.register(notificationRoutes, { notifications: delivery.notifications, guards });
  await app.register(streamRoutes, { hub: delivery.stream, guards, tokens });
};
