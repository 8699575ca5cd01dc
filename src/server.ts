import type { FastifyInstance } from "fastify";
import type { Logger } from "pino";
import { buildApp } from "./app.ts";
import type { Config } from "./config.ts";
import { ensureAdmin } from "./identity/bootstrap.ts";
import { loadNewPacks } from "./content/loader.ts";
import { createGame, type Game } from "./engine/index.ts";
import { API_KEYS_CHANGED } from "./identity/api-keys.ts";
import { createIdentity } from "./identity/index.ts";
import { systemClock } from "./platform/clock.ts";
import { openDatabase } from "./platform/db/connect.ts";
import { resolveJwtSecret } from "./platform/secrets.ts";
import { RedisIndex } from "./leaderboards/rank-index/redis-index.ts";
import { createDelivery, type Delivery } from "./delivery/index.ts";
import { ludusJobs } from "./scheduler/jobs.ts";
import { Scheduler } from "./scheduler/scheduler.ts";

export interface RunningServer {
  app: FastifyInstance;
  url: string;
  stop(): Promise<void>;
}

/** Starts everything `npm start` serves and returns once it is listening. */
export async function startServer(config: Config, logger: Logger): Promise<RunningServer> {
  const database = await openDatabase(config, logger);
  let app: FastifyInstance | undefined;
  let game: Game | undefined;
  let delivery: Delivery | undefined;
  try {
    const { db } = database;
    const identity = createIdentity(db, systemClock, config, await resolveJwtSecret(db, config.jwtSecret));
    if (config.admin !== undefined) {
      const outcome = await ensureAdmin(db, identity.auth, config.admin);
      logger.info({ email: config.admin.email, outcome }, "admin account checked");
    }
    const rankIndex =
      config.redisUrl === undefined ? undefined : new RedisIndex({ url: config.redisUrl, prefix: "ludus:" });
    game = createGame(db, systemClock, logger, { ...config, rankIndex });
    const apiKeys = identity.apiKeys;
    game.definitions.subscribe((payload) => {
      if (payload === API_KEYS_CHANGED) apiKeys.clearCache();
    });
    await game.definitions.listen(database.runtime.url, database.runtime.switchRole);
    for (const report of await loadNewPacks(db, game)) {
      logger.info(report, "default content loaded");
    }
    // Until the rank index is filled, ranks are answered from PostgreSQL.
    const ranks = game.ranks;
    ranks.start().catch((err: unknown) => logger.error({ err }, "rank index rebuild failed"));
    delivery = createDelivery(db, systemClock, logger, config.delivery);
    // The realtime stream hears every instance's dispatcher on its own connection.
    await delivery.stream.listen(database.runtime.url, database.runtime.switchRole);
    app = await buildApp({ config, db, clock: systemClock, identity, game, logger, delivery });
    await app.listen({ port: config.port, host: config.host });
  } catch (error) {
    await app?.close();
    await delivery?.stop();
    await game?.definitions.close();
    await database.close();
    throw error;
  }

  // Recurring jobs, once across instances (scheduled_jobs): quest assignment, streak reminders,
  // leaderboard period close, partitions ahead, retention. Missed periods are caught up at once.
  const ranks = game.ranks;
  const scheduler = new Scheduler(
    database.db,
    systemClock,
    logger,
    ludusJobs({ db: database.db, game, notifications: delivery.notifications, logger }, config.jobs),
  );
  scheduler.start();

  // Outbox dispatch, webhook and notification sending, until stop() (they catch up on start).
  const deliveryLoops = delivery;
  deliveryLoops.start();

  const address = app.server.address();
  const port = typeof address === "object" && address !== null ? address.port : config.port;
  const host = config.host === "0.0.0.0" || config.host === "::" ? "localhost" : config.host;
  const url = config.publicUrl ?? `http://${host}:${port}`;
  const running = app;
  const definitions = game.definitions;
  return {
    app: running,
    url,
    async stop() {
      await scheduler.stop();
      await running.close();
      await deliveryLoops.stop();
      await definitions.close();
      ranks.close();
      await ranks.index.close();
      await database.close();
    },
  };
}
