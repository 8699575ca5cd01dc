import type { FastifyInstance } from "fastify";
import pino from "pino";
import { buildApp } from "../../src/app.ts";
import { createGame, type Game } from "../../src/engine/index.ts";
import { createIdentity } from "../../src/identity/index.ts";
import type { RankIndex } from "../../src/leaderboards/rank-index/rank-index.ts";
import type { Clock } from "../../src/platform/clock.ts";
import { createRuntimePool, Database } from "../../src/platform/db/database.ts";
import { createDelivery, type Delivery, type DeliveryOverrides } from "../../src/delivery/index.ts";

/** Another Ludus instance on a test context's database: its own pool, game, rank service and app. */
export interface Instance {
  app: FastifyInstance;
  db: Database;
  game: Game;
  /** Its delivery (loops not started unless the test starts them). */
  delivery: Delivery;
  close(): Promise<void>;
}

/**
 * Builds a second Ludus app on an existing (already migrated and loaded) database, as another
 * process would be: the same settings and JWT secret as test/helpers/context.ts, its own pool,
 * definitions cache and rank service (on `rankIndex`, an in-process index unless given). Its rank
 * service starts as src/server.ts starts it (`start`: a shared index built before is used as it is,
 * otherwise it is rebuilt), unless `ranks` says to `rebuild` it or to do `nothing` (not ready: ranks
 * from PostgreSQL). Closing it leaves the database.
 */
export async function createInstance(
  databaseUrl: string,
  clock: Clock,
  options: {
    rankIndex?: RankIndex;
    ranks?: "start" | "rebuild" | "nothing";
    delivery?: DeliveryOverrides;
  } = {},
): Promise<Instance> {
  const logger = pino({ level: process.env.LOG_LEVEL ?? "silent" });
  const db = new Database(createRuntimePool(databaseUrl, 8, true), logger);
  const identity = createIdentity(
    db,
    clock,
    {
      argon2: { memoryCost: 1024, timeCost: 1 },
      accessTokenTtlSeconds: 900,
      refreshTokenTtlSeconds: 30 * 24 * 3600,
      loginMaxFailures: 5,
      loginMaxFailuresPerIp: 1000,
    },
    "test-secret-that-is-long-enough-for-hs256!!",
  );
  const events = { maxAgeMs: 72 * 3_600_000, futureSkewMs: 300_000, playerRateLimitPerMinute: 100000 };
  const game = createGame(db, clock, logger, { events, rankIndex: options.rankIndex });
  const ranks = options.ranks ?? "start";
  if (ranks === "start") await game.ranks.start();
  else if (ranks === "rebuild") await game.ranks.rebuild();
  const delivery = createDelivery(db, clock, logger, options.delivery);
  const app = await buildApp({
    config: { trustProxy: false, corsOrigins: [], authRateLimitPerMinute: 100000, events },
    db,
    clock,
    identity,
    game,
    logger,
    delivery,
  });
  await app.ready();
  return {
    app,
    db,
    game,
    delivery,
    async close() {
      await delivery.stop();
      await app.close();
      game.ranks.close();
      await game.ranks.index.close();
      await db.close();
    },
  };
}
