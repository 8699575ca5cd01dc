import { randomUUID } from "node:crypto";
import cors from "@fastify/cors";
import helmet from "@fastify/helmet";
import rateLimit from "@fastify/rate-limit";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from "fastify";
import type { Logger } from "pino";
import { achievementRoutes } from "./achievements/achievements.routes.ts";
import { auditRoutes } from "./audit/audit.routes.ts";
import type { Config } from "./config.ts";
import { adminUserRoutes } from "./identity/admin.routes.ts";
import { authRoutes } from "./identity/auth.routes.ts";
import { authenticateOnRequest } from "./identity/guards.ts";
import type { Identity } from "./identity/index.ts";
import { meRoutes } from "./identity/me.routes.ts";
import { userRoutes } from "./identity/users.routes.ts";
import { definitionRoutes } from "./engine/definitions.routes.ts";
import { eventRoutes } from "./engine/events.routes.ts";
import type { Game } from "./engine/index.ts";
import { shopAdminRoutes } from "./economy/shop-admin.routes.ts";
import { shopRoutes } from "./economy/shop.routes.ts";
import { walletRoutes } from "./economy/wallet.routes.ts";
import type { Clock } from "./platform/clock.ts";
import type { Database } from "./platform/db/database.ts";
import { progressRoutes } from "./progression/progress.routes.ts";
import { frameworkErrors, registerErrorHandling } from "./platform/http/errors.ts";
import { registerObservability } from "./platform/http/observability.ts";
import { registerOpenApi } from "./platform/http/openapi.ts";
import { registerValidation } from "./platform/http/validation.ts";
import { registerJsonLimits } from "./platform/http/json-limits.ts";
import { scrubClientInfo } from "./engine/events.store.ts";
import { gameExporters } from "./engine/export.ts";
import { leaderboardRoutes } from "./leaderboards/leaderboards.routes.ts";
import { questRoutes } from "./quests/quests.routes.ts";
import { streakRoutes } from "./streaks/streaks.routes.ts";
import { VERSION } from "./version.ts";
import { createDelivery, type Delivery } from "./delivery/index.ts";
import { deliveryRoutes } from "./delivery/routes.ts";

export interface AppDeps {
  config: Pick<Config, "trustProxy" | "corsOrigins" | "authRateLimitPerMinute" | "events">;
  db: Database;
  clock: Clock;
  identity: Identity;
  game: Game;
  logger: FastifyBaseLogger;
  /** Webhooks, notifications, the stream; made here (its loops not started) when not given. */
  delivery?: Delivery;
}

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** The composition root of the HTTP API: platform plugins first, then each feature's routes. */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const { config, db, clock, identity, game } = deps;
  const app = Fastify({
    loggerInstance: deps.logger,
    trustProxy: config.trustProxy,
    // Take a caller's request id when it is sane, so logs can be joined across services.
    genReqId: (req) => {
      const given = req.headers["x-request-id"];
      return typeof given === "string" && REQUEST_ID.test(given) ? given : randomUUID();
    },
    bodyLimit: 1024 * 1024,
    frameworkErrors,
    ajv: { customOptions: { removeAdditional: false } },
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.decorateRequest("principal", null);
  authenticateOnRequest(app);
  app.addHook("onSend", async (request, reply) => {
    void reply.header("x-request-id", request.id);
  });

  registerValidation(app);
  registerJsonLimits(app);
  registerErrorHandling(app);
  await app.register(helmet, { contentSecurityPolicy: false });
  if (config.corsOrigins.length > 0)
    await app.register(cors, { origin: config.corsOrigins, credentials: true });
  await app.register(rateLimit, { global: false });
  await registerOpenApi(app, VERSION);
  registerObservability(app, db);

  await app.register(authRoutes, {
    prefix: "/v1/auth",
    auth: identity.auth,
    guards: identity.guards,
    rateLimitPerMinute: config.authRateLimitPerMinute,
  });
  for (const exporter of gameExporters) identity.account.registerExporter(exporter);
  identity.onErase(scrubClientInfo);
  // Deactivated, deleted and erased players leave every board, and come back if reactivated.
  identity.onStandingChange(async (tx, userId, listed) => {
    await game.leaderboards.setListed(tx, userId, listed);
  });
  await app.register(meRoutes, { prefix: "/v1/me", account: identity.account, guards: identity.guards });
  await app.register(userRoutes, { prefix: "/v1/users", db, guards: identity.guards });
  await app.register(adminUserRoutes, {
    prefix: "/v1/admin",
    adminUsers: identity.adminUsers,
    apiKeys: identity.apiKeys,
    guards: identity.guards,
  });
  await app.register(auditRoutes, { prefix: "/v1/admin", db, guards: identity.guards });
  const guards = identity.guards;
  await app.register(eventRoutes, {
    intake: game.intake,
    db,
    guards,
    adminUsers: identity.adminUsers,
    playerRateLimitPerMinute: config.events.playerRateLimitPerMinute,
  });
  await app.register(definitionRoutes, { service: game.definitionsService, guards });
  await app.register(walletRoutes, { wallets: game.wallets, guards, adminUsers: identity.adminUsers });
  await app.register(progressRoutes, { progress: game.progress, guards, db, clock });
  await app.register(achievementRoutes, { achievements: game.achievements, guards });
  await app.register(streakRoutes, { streaks: game.streaks, guards });
  await app.register(questRoutes, { quests: game.quests, guards });
  await app.register(leaderboardRoutes, { leaderboards: game.leaderboards, guards });
  const economy = { shop: game.shop, inventory: game.inventory, gifts: game.gifts, guards };
  await app.register(shopRoutes, economy);
  await app.register(shopAdminRoutes, economy);
  const delivery = deps.delivery ?? createDelivery(db, clock, deps.logger as unknown as Logger);
  await app.register(deliveryRoutes, { delivery, guards, tokens: identity.tokens });
  return app;
}
