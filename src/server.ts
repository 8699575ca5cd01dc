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
import { ensurePartitions, openDatabase } from "./platform/db/connect.ts";
import { resolveJwtSecret } from "./platform/secrets.ts";
import { closeDuePeriods } from "./leaderboards/period-close.ts";
import { RedisIndex } from "./leaderboards/rank-index/redis-index.ts";

const DAY_MS = 24 * 60 * 60 * 1000;

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
    app = await buildApp({ config, db, clock: systemClock, identity, game, logger });
    await app.listen({ port: config.port, host: config.host });
  } catch (error) {
    await app?.close();
    await game?.definitions.close();
    await database.close();
    throw error;
  }

  // Partition upkeep until the scheduler owns it: once a day, a few months ahead.
  const upkeep = setInterval(() => {
    ensurePartitions(database.db).catch((err: unknown) => logger.error({ err }, "partition upkeep failed"));
  }, DAY_MS);
  upkeep.unref();
  // Leaderboard periods that ended (also while Ludus was stopped) are closed now and every minute.
  const ranks = game.ranks;
  const closePeriods = () =>
    closeDuePeriods(database.db, ranks, systemClock.now(), logger).catch((err: unknown) =>
      logger.error({ err }, "closing leaderboard periods failed"),
    );
  void closePeriods();
  const closer = setInterval(() => void closePeriods(), 60_000);
  closer.unref();

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
      clearInterval(upkeep);
      clearInterval(closer);
      await running.close();
      await definitions.close();
      ranks.close();
      await ranks.index.close();
      await database.close();
    },
  };
}
