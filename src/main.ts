import { Command, InvalidArgumentError } from "commander";
import type { Logger } from "pino";
import type { Database } from "./platform/db/database.ts";
import { loadConfig, ConfigError, type Config } from "./config.ts";
import { loadPack, readPacks } from "./content/loader.ts";
import { verifyBooks } from "./economy/verify.ts";
import { createGame } from "./engine/index.ts";
import { ensureAdmin } from "./identity/bootstrap.ts";
import { createIdentity } from "./identity/index.ts";
import { assignQuestsToAll } from "./quests/quest-book.ts";
import { RedisIndex } from "./leaderboards/rank-index/redis-index.ts";
import { systemClock } from "./platform/clock.ts";
import { openAdminConnection, openDatabase } from "./platform/db/connect.ts";
import { migrate, migrationStatus } from "./platform/db/migrator.ts";
import { createLogger } from "./platform/logging.ts";
import { resolveJwtSecret } from "./platform/secrets.ts";
import { withStartupLock } from "./platform/db/startup-lock.ts";
import { startServer } from "./server.ts";
import { VERSION } from "./version.ts";

function isoInstant(value: string): Date {
  const at = new Date(value);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(value) || Number.isNaN(at.getTime())) {
    throw new InvalidArgumentError("expected an ISO 8601 instant such as 2026-03-08T00:00:00Z");
  }
  return at;
}

/** Runs a ranks command with the game and its index (Redis when REDIS_URL is set). */
function withRanks(fn: (game: ReturnType<typeof createGame>) => Promise<void>): Promise<void> {
  return withDatabase(async (db, config, logger) => {
    const rankIndex =
      config.redisUrl === undefined ? undefined : new RedisIndex({ url: config.redisUrl, prefix: "ludus:" });
    const game = createGame(db, systemClock, logger, { ...config, rankIndex });
    try {
      await fn(game);
    } finally {
      game.ranks.close();
      await game.ranks.index.close();
    }
  });
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("must be a positive integer");
  return n;
}

async function serve(config: Config): Promise<void> {
  const logger = createLogger(config.logLevel);
  const server = await startServer(config, logger);
  // A signal to the process group (Ctrl-C, `docker stop`, a service manager) also reaches wrappers
  // such as npm or tsx, which forward it: a repeat soon after the first is that copy, not a user
  // asking twice. A later one exits at once (the embedded PostgreSQL is still asked to stop).
  let stoppingSince: number | undefined;
  const shutdown = (signal: string) => {
    if (stoppingSince !== undefined) {
      if (Date.now() - stoppingSince < 3000) return;
      logger.warn({ signal }, "second signal: exiting at once");
      process.exit(1);
    }
    stoppingSince = Date.now();
    logger.info({ signal }, "shutting down");
    // Every step has its own deadline; this bounds the whole.
    const ceiling = setTimeout(() => {
      logger.error({ ms: config.shutdownTimeoutMs }, "shutdown did not finish in time; exiting");
      process.exit(1);
    }, config.shutdownTimeoutMs);
    ceiling.unref();
    server.stop().then(
      () => {
        logger.info("stopped");
        process.exit(0);
      },
      (err: unknown) => {
        logger.error({ err }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", () => shutdown("SIGINT"));
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  // One write, so that whoever watches for "is running" finds the whole banner with it.
  console.log(
    [
      `\nLudus ${VERSION} is running\n`,
      `  API        ${server.url}/v1`,
      `  API docs   ${server.url}/docs`,
      `  OpenAPI    ${server.url}/openapi.json`,
      `  Health     ${server.url}/healthz`,
      `  Metrics    ${server.url}/metrics`,
      `  Database   ${config.databaseUrl === undefined ? `embedded, data in ${config.dataDir}` : "DATABASE_URL"}\n`,
    ].join("\n"),
  );
}

async function withAdminUrl<T>(config: Config, fn: (url: string) => Promise<T>): Promise<T> {
  const logger = createLogger(config.logLevel === "info" ? "warn" : config.logLevel);
  const admin = await openAdminConnection(config, logger);
  try {
    return await fn(admin.url);
  } finally {
    await admin.stop();
  }
}

/** Opens the migrated database (starting the embedded one if needed) for a one-off command. */
async function withDatabase(
  fn: (db: Database, config: Config, logger: Logger, adminUrl: string) => Promise<void>,
): Promise<void> {
  const config = loadConfig();
  const logger = createLogger("warn");
  const database = await openDatabase(config, logger);
  try {
    await fn(database.db, config, logger, database.adminUrl);
  } finally {
    await database.close();
  }
}

const program = new Command()
  .name("ludus")
  .description("Ludus gamification backend")
  .version(VERSION)
  .showHelpAfterError();

program
  .command("serve", { isDefault: true })
  .description("run the HTTP API (migrates first)")
  .action(() => serve(loadConfig()));

const migrateCommand = program.command("migrate").description("database migrations");
migrateCommand
  .command("up")
  .description("apply pending migrations")
  .option("--count <n>", "apply at most n", positiveInt)
  .action((opts: { count?: number }) =>
    withAdminUrl(loadConfig(), async (url) => {
      const applied = await migrate(url, "up", createLogger("warn"), opts.count);
      console.log(applied.length === 0 ? "Nothing to apply." : `Applied: ${applied.join(", ")}`);
    }),
  );
migrateCommand
  .command("down")
  .description("revert the latest migrations (one by default)")
  .option("--count <n>", "revert n", positiveInt, 1)
  .action((opts: { count: number }) =>
    withAdminUrl(loadConfig(), async (url) => {
      const reverted = await migrate(url, "down", createLogger("warn"), opts.count);
      console.log(reverted.length === 0 ? "Nothing to revert." : `Reverted: ${reverted.join(", ")}`);
    }),
  );
migrateCommand
  .command("status")
  .description("list migrations and whether each is applied")
  .action(() =>
    withAdminUrl(loadConfig(), async (url) => {
      for (const m of await migrationStatus(url)) {
        console.log(
          `${m.appliedAt === null ? "pending " : "applied "} ${m.name}${m.appliedAt ? `  (${m.appliedAt.toISOString()})` : ""}`,
        );
      }
    }),
  );

program
  .command("verify")
  .description("check every balance against its ledger, levels against XP, and statistics totals")
  .action(() =>
    withDatabase(async (db, config, logger) => {
      const game = createGame(db, systemClock, logger, config);
      const report = await verifyBooks(db, game.definitions, (done, total) =>
        process.stderr.write(`\rChecked ${done} of ${total} players`),
      );
      process.stderr.write("\n");
      for (const p of report.problems) console.log(`${p.user_id}  ${p.currency}  ${p.problem}: ${p.detail}`);
      console.log(
        report.problems.length === 0
          ? `All books balance: ${report.players} players checked.`
          : `${report.problems.length} problem(s) found in ${report.players} players.`,
      );
      process.exitCode = report.problems.length === 0 ? 0 : 1;
    }),
  );

program
  .command("quests")
  .description("quests")
  .command("assign")
  .description("give every active player the quests of their periods containing --at (default now)")
  .option("--at <instant>", "an ISO 8601 instant", isoInstant)
  .action((opts: { at?: Date }) =>
    withDatabase(async (db, config, logger) => {
      const game = createGame(db, systemClock, logger, config);
      const given = await assignQuestsToAll(
        db,
        await game.definitions.snapshot(),
        opts.at ?? new Date(),
        (done, total) => process.stderr.write(`\rAssigned quests to ${done} of ${total} players`),
      );
      process.stderr.write("\n");
      console.log(`${given} quest(s) given.`);
    }),
  );

const ranksCommand = program.command("ranks").description("the leaderboards' rank index");
ranksCommand
  .command("verify")
  .description("compare the rank index (Redis when REDIS_URL is set) with PostgreSQL, entry by entry")
  .action(() =>
    withRanks(async (game) => {
      if (!(await game.ranks.index.isBuilt?.())) await game.ranks.rebuild();
      const report = await game.ranks.verify((done, total) =>
        process.stderr.write(`\rChecked ${done} of ${total} entries`),
      );
      process.stderr.write("\n");
      for (const p of report.problems) console.log(p);
      console.log(
        report.problems.length === 0
          ? `The rank index matches PostgreSQL: ${report.entries} entries in ${report.lists} board periods.`
          : `${report.problems.length} difference(s) found (at most 20 are listed).`,
      );
      process.exitCode = report.problems.length === 0 ? 0 : 1;
    }),
  );
ranksCommand
  .command("rebuild")
  .description("rebuild the rank index from PostgreSQL (progress in the log)")
  .action(() =>
    withRanks(async (game) => {
      await game.ranks.rebuild((done, total) => process.stderr.write(`\rLoaded ${done} of ${total} entries`));
      process.stderr.write("\n");
      console.log("Rank index rebuilt.");
    }),
  );

program
  .command("seed")
  .description("load the content packs in content/ (definitions that exist are left as they are)")
  .action(() =>
    withDatabase(async (db, config, logger, adminUrl) => {
      const game = createGame(db, systemClock, logger, config);
      // Not at the same time as a server starting up and loading its default content.
      await withStartupLock(adminUrl, logger, async () => {
        for (const pack of await readPacks()) {
          const report = await loadPack(db, game, pack);
          console.log(`${report.pack}: ${report.created} created, ${report.skipped} already present`);
        }
      });
    }),
  );

program
  .command("admin")
  .description("administrator accounts")
  .command("create")
  .description("create an admin account (password from --password or LUDUS_ADMIN_PASSWORD)")
  .requiredOption("--email <email>")
  .option("--username <name>", "username", "admin")
  .option("--password <password>")
  .action(async (opts: { email: string; username: string; password?: string }) => {
    const password = opts.password ?? process.env.LUDUS_ADMIN_PASSWORD;
    if (password === undefined) throw new InvalidArgumentError("give --password or set LUDUS_ADMIN_PASSWORD");
    await withDatabase(async (db, config) => {
      const identity = createIdentity(db, systemClock, config, await resolveJwtSecret(db, config.jwtSecret));
      const outcome = await ensureAdmin(db, identity.auth, {
        email: opts.email,
        username: opts.username,
        password,
      });
      console.log(
        outcome === "created"
          ? `Admin ${opts.email} created.`
          : `An account with ${opts.email} already exists; unchanged.`,
      );
    });
  });

program.parseAsync().catch((error: unknown) => {
  if (error instanceof ConfigError || error instanceof InvalidArgumentError) {
    console.error(error.message);
  } else {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  }
  process.exit(1);
});
