import { randomBytes } from "node:crypto";
import type { FastifyInstance, LightMyRequestResponse } from "fastify";
import pino from "pino";
import { buildApp } from "../../src/app.ts";
import { loadNewPacks } from "../../src/content/loader.ts";
import { createGame, type Game } from "../../src/engine/index.ts";
import { createIdentity, type Identity } from "../../src/identity/index.ts";
import type { RankIndex } from "../../src/leaderboards/rank-index/rank-index.ts";
import { ManualClock } from "../../src/platform/clock.ts";
import { createRuntimePool, Database } from "../../src/platform/db/database.ts";
import { ensurePartitions } from "../../src/platform/db/connect.ts";
import { cloneTemplate } from "./postgres.ts";
import { createDelivery, type Delivery, type DeliveryOverrides } from "../../src/delivery/index.ts";

export interface TestContext {
  app: FastifyInstance;
  db: Database;
  identity: Identity;
  game: Game;
  clock: ManualClock;
  /** Webhooks, notifications, the stream: loops not started; tests call `delivery.runOnce()`. */
  delivery: Delivery;
  /** URL of this file's database as the owner (for SQL-level checks). */
  ownerUrl: string;
  close(): Promise<void>;
}

export interface TestOptions {
  authRateLimitPerMinute?: number;
  loginMaxFailures?: number;
  loginMaxFailuresPerIp?: number;
  accessTokenTtlSeconds?: number;
  eventsRateLimitPerMinute?: number;
  /** Load the default content packs (default true). */
  content?: boolean;
  /** Which packs to load: the base DietGame pack unless a test asks for more (such as its achievements). */
  packs?: readonly string[];
  /** The rank index to use (an in-process one unless a test gives another, such as Redis). */
  rankIndex?: RankIndex;
  /** Delivery settings (retries, SMTP, push) for this test. */
  delivery?: DeliveryOverrides;
}

/** The secret test apps sign access tokens with (tests that forge tokens need it). */
export const TEST_JWT_SECRET = "test-secret-that-is-long-enough-for-hs256!!";

/** A whole Ludus app on its own cloned database, with a clock the test moves. */
export async function createTestContext(options: TestOptions = {}): Promise<TestContext> {
  const database = await cloneTemplate(`ludus_test_${randomBytes(6).toString("hex")}`);
  const logger = pino({ level: process.env.LOG_LEVEL ?? "silent" });
  const db = new Database(createRuntimePool(database.url, 8, true), logger);
  const clock = new ManualClock(new Date());
  await ensurePartitions(db, clock.now());
  const identity = createIdentity(
    db,
    clock,
    {
      // Cheap hashing keeps tests fast; production defaults are checked in bench/auth.
      argon2: { memoryCost: 1024, timeCost: 1 },
      accessTokenTtlSeconds: options.accessTokenTtlSeconds ?? 900,
      refreshTokenTtlSeconds: 30 * 24 * 3600,
      loginMaxFailures: options.loginMaxFailures ?? 5,
      loginMaxFailuresPerIp: options.loginMaxFailuresPerIp ?? 1000,
    },
    TEST_JWT_SECRET,
  );
  const events = {
    maxAgeMs: 72 * 3_600_000,
    futureSkewMs: 300_000,
    playerRateLimitPerMinute: options.eventsRateLimitPerMinute ?? 100000,
  };
  const game = createGame(db, clock, logger, { events, rankIndex: options.rankIndex });
  if (options.content !== false) await loadNewPacks(db, game, options.packs ?? ["dietgame"]);
  await game.ranks.rebuild();
  const delivery = createDelivery(db, clock, logger, options.delivery);
  const app = await buildApp({
    config: {
      trustProxy: false,
      corsOrigins: [],
      authRateLimitPerMinute: options.authRateLimitPerMinute ?? 100000,
      events,
    },
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
    identity,
    game,
    clock,
    delivery,
    ownerUrl: database.url,
    async close() {
      await delivery.stop();
      await app.close();
      game.ranks.close();
      await game.ranks.index.close();
      await db.close();
      await database.drop();
    },
  };
}

let counter = 0;

/** Registers a fresh player through the API and returns its ids and tokens. */
export async function registerPlayer(
  app: FastifyInstance,
  overrides: Partial<{ email: string; username: string; password: string; timeZone: string }> = {},
) {
  counter += 1;
  const tag = `${process.pid}${counter}${randomBytes(3).toString("hex")}`;
  const body = {
    email: overrides.email ?? `player${tag}@example.com`,
    username: overrides.username ?? `player${tag}`,
    password: overrides.password ?? "a long enough password",
    ...(overrides.timeZone ? { timeZone: overrides.timeZone } : {}),
  };
  const res = await app.inject({ method: "POST", url: "/v1/auth/register", payload: body });
  if (res.statusCode !== 201) throw new Error(`register failed: ${res.statusCode} ${res.body}`);
  const json = res.json<{
    user: { id: string };
    tokens: { accessToken: string; refreshToken: string; sessionId: string };
  }>();
  return { ...body, id: json.user.id, ...json.tokens };
}

/** Makes an admin directly through the service (there is no public way to become one). */
export async function createAdmin(ctx: TestContext) {
  counter += 1;
  const tag = `${process.pid}${counter}${randomBytes(3).toString("hex")}`;
  const password = "an admin password";
  await ctx.identity.auth.createUser(
    { email: `admin${tag}@example.com`, username: `admin${tag}`, password },
    "admin",
    { ip: null, userAgent: null, requestId: null },
  );
  const res = await ctx.app.inject({
    method: "POST",
    url: "/v1/auth/login",
    payload: { login: `admin${tag}`, password },
  });
  const json = res.json<{ user: { id: string }; tokens: { accessToken: string; refreshToken: string } }>();
  return { id: json.user.id, accessToken: json.tokens.accessToken, username: `admin${tag}` };
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** Asserts an RFC 9457 problem answer and returns its body. */
export function problem(res: LightMyRequestResponse) {
  const type = String(res.headers["content-type"] ?? "");
  if (!type.startsWith("application/problem+json")) {
    throw new Error(`expected problem+json, got ${type} (${res.statusCode}): ${res.body}`);
  }
  return res.json<{
    status: number;
    code: string;
    detail: string;
    errors?: { path: string; message: string }[];
  }>();
}

/** Creates an API key through the admin API and returns the key itself. */
export async function createApiKey(
  ctx: TestContext,
  adminToken: string,
  scopes: string[] = ["events:write", "users:read"],
  name = "test",
): Promise<string> {
  const res = await ctx.app.inject({
    method: "POST",
    url: "/v1/admin/api-keys",
    headers: bearer(adminToken),
    payload: { name, scopes },
  });
  if (res.statusCode !== 201) throw new Error(`API key creation failed: ${res.statusCode} ${res.body}`);
  return res.json<{ key: string }>().key;
}

/** Row count and content digest of each table: equal before and after means nothing was written. */
export function tableDigests(ctx: TestContext, tables: readonly string[]) {
  return ctx.db.asSystem(async (tx) => {
    const out: Record<string, { rows: number; digest: string }> = {};
    for (const table of tables) {
      out[table] = await tx.one<{ rows: number; digest: string }>(
        `SELECT count(*)::int AS rows, md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) AS digest
         FROM ${table} t`,
      );
    }
    return out;
  });
}
