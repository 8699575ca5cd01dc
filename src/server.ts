import type { FastifyInstance } from "fastify";
import type { Logger } from "pino";
import { buildApp } from "./app.ts";
import type { Config } from "./config.ts";
import { ensureAdmin } from "./identity/bootstrap.ts";
import { loadNewPacks } from "./content/loader.ts";
import { createGame, type Game } from "./engine/index.ts";
import { createIdentity } from "./identity/index.ts";
import { systemClock } from "./platform/clock.ts";
import { openDatabase } from "./platform/db/connect.ts";
import { Listener } from "./platform/db/listener.ts";
import { withStartupLock } from "./platform/db/startup-lock.ts";
import { resolveJwtSecret } from "./platform/secrets.ts";
import { RedisIndex } from "./leaderboards/rank-index/redis-index.ts";
import { createDelivery, type Delivery } from "./delivery/index.ts";
import { ludusJobs } from "./scheduler/jobs.ts";
import { Scheduler } from "./scheduler/scheduler.ts";

export interface RunningServer {
  app: FastifyInstance;
  url: string;
  /** The instance's one LISTEN connection (tests cut it). */
  listener: Listener;
  /**
   * Drains and stops everything, each step within its own deadline (a step that hangs is logged
   * and left behind), the embedded PostgreSQL last. Resolves whatever happens.
   */
  stop(): Promise<void>;
}

/** Runs a shutdown step; past `ms` it is left running and reported, and the next step goes on. */
async function step(logger: Logger, name: string, ms: number, run: () => unknown): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<"late">((resolve) => {
    timer = setTimeout(resolve, ms, "late");
    timer.unref();
  });
  try {
    const outcome = await Promise.race([Promise.resolve().then(run), deadline]);
    if (outcome === "late") logger.warn({ step: name, ms }, "shutdown step did not finish in time; going on");
  } catch (err) {
    logger.warn({ err, step: name }, "shutdown step failed; going on");
  } finally {
    clearTimeout(timer);
  }
}

/** Starts everything `npm start` serves and returns once it is listening. */
export async function startServer(config: Config, logger: Logger): Promise<RunningServer> {
  const database = await openDatabase(config, logger);
  let app: FastifyInstance | undefined;
  let game: Game | undefined;
  let delivery: Delivery | undefined;
  // One LISTEN connection for the instance, on the direct URL (a pooler cannot carry LISTEN).
  const listener = new Listener({ url: database.adminUrl, logger });
  try {
    const { db } = database;
    const identity = createIdentity(db, systemClock, config, await resolveJwtSecret(db, config.jwtSecret));
    const rankIndex =
      config.redisUrl === undefined ? undefined : new RedisIndex({ url: config.redisUrl, prefix: "ludus:" });
    game = createGame(db, systemClock, logger, { ...config, rankIndex });
    delivery = createDelivery(db, systemClock, logger, config.delivery);
    // Every cache NOTIFY keeps fresh hears it on the one listener; each reloads on every (re)connect
    // and, while it is down, is bypassed or held at most a second.
    game.definitions.attach(listener);
    identity.apiKeys.attach(listener);
    delivery.stream.attach(listener);
    const ranks = game.ranks;
    listener.onConnect(() => {
      ranks.recheck().catch((err: unknown) => logger.warn({ err }, "rank index check failed"));
    });
    await listener.start();
    // Instances starting at once take turns: the admin and the default content are made once.
    const started = game;
    await withStartupLock(database.adminUrl, logger, async () => {
      if (config.admin !== undefined) {
        const outcome = await ensureAdmin(db, identity.auth, config.admin);
        logger.info({ email: config.admin.email, outcome }, "admin account checked");
      }
      for (const report of await loadNewPacks(db, started)) {
        logger.info(report, "default content loaded");
      }
    });
    // Until the rank index is filled, ranks are answered from PostgreSQL.
    ranks.start().catch((err: unknown) => logger.error({ err }, "rank index rebuild failed"));
    app = await buildApp({ config, db, clock: systemClock, identity, game, logger, delivery });
    await app.listen({ port: config.port, host: config.host });
  } catch (error) {
    await app?.close();
    await delivery?.stop();
    await listener.close();
    game?.ranks.close();
    await game?.ranks.index.close();
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
  let stopping: Promise<void> | undefined;
  return {
    app: running,
    url,
    listener,
    stop() {
      stopping ??= (async () => {
        // New connections are refused at once; requests in flight finish (streams are ended).
        await step(logger, "http", 5000, async () => {
          const closing = running.close();
          // Idle keep-alive sockets are closed by Fastify; a request still running after 4 s is cut.
          const force = setTimeout(() => running.server.closeAllConnections(), 4000);
          force.unref();
          await closing.finally(() => clearTimeout(force));
        });
        await step(logger, "scheduler", 2000, () => scheduler.stop());
        await step(logger, "delivery", 2000, () => deliveryLoops.stop());
        await step(logger, "listener", 1000, () => listener.close());
        await step(logger, "rank index", 1000, async () => {
          ranks.close();
          await ranks.index.close();
        });
        // The pool, then the embedded PostgreSQL (in its own process group, so still running).
        await step(logger, "database", 15_000, () => database.close(2000));
      })();
      return stopping;
    },
  };
}
