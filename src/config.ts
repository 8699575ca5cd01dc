import path from "node:path";
import { Type, type Static } from "typebox";
import { Value } from "typebox/value";
import type { DeliveryOverrides } from "./delivery/index.ts";
import { parseAllowList } from "./delivery/webhooks/egress.ts";
import type { JobSettings } from "./scheduler/jobs.ts";

/**
 * Everything Ludus reads from the environment, validated once at boot. A bad value stops the
 * process with a message naming the variable, instead of failing later in a request.
 */
const EnvSchema = Type.Object({
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3000 }),
  HOST: Type.String({ minLength: 1, default: "127.0.0.1" }),
  DATABASE_URL: Type.Optional(Type.String({ pattern: "^postgres(ql)?://" })),
  DATABASE_APP_URL: Type.Optional(Type.String({ pattern: "^postgres(ql)?://" })),
  DATABASE_POOL_SIZE: Type.Integer({ minimum: 1, maximum: 500, default: 10 }),
  LUDUS_DATA_DIR: Type.String({ minLength: 1, default: ".ludus" }),
  LUDUS_EMBEDDED_PORT: Type.Integer({ minimum: 1, maximum: 65535, default: 54329 }),
  LUDUS_PUBLIC_URL: Type.Optional(Type.String({ pattern: "^https?://" })),
  LUDUS_JWT_SECRET: Type.Optional(Type.String({ minLength: 32 })),
  LUDUS_ACCESS_TOKEN_TTL: Type.Integer({ minimum: 30, maximum: 86400, default: 900 }),
  LUDUS_REFRESH_TOKEN_TTL: Type.Integer({ minimum: 300, maximum: 31536000, default: 2592000 }),
  LUDUS_ADMIN_EMAIL: Type.Optional(Type.String({ format: "email" })),
  LUDUS_ADMIN_PASSWORD: Type.Optional(Type.String({ minLength: 10 })),
  LUDUS_ADMIN_USERNAME: Type.String({ minLength: 3, maxLength: 32, default: "admin" }),
  LUDUS_ARGON2_MEMORY_KIB: Type.Integer({ minimum: 1024, maximum: 1048576, default: 19456 }),
  LUDUS_ARGON2_TIME_COST: Type.Integer({ minimum: 1, maximum: 20, default: 2 }),
  LUDUS_AUTH_RATE_LIMIT: Type.Integer({ minimum: 1, maximum: 100000, default: 30 }),
  LUDUS_LOGIN_MAX_FAILURES: Type.Integer({ minimum: 1, maximum: 1000, default: 5 }),
  LUDUS_LOGIN_MAX_FAILURES_PER_IP: Type.Integer({ minimum: 1, maximum: 100000, default: 50 }),
  LUDUS_EVENT_MAX_AGE_HOURS: Type.Integer({ minimum: 1, maximum: 8760, default: 72 }),
  LUDUS_EVENT_FUTURE_SKEW_SECONDS: Type.Integer({ minimum: 0, maximum: 3600, default: 300 }),
  LUDUS_EVENTS_RATE_LIMIT: Type.Integer({ minimum: 1, maximum: 1000000, default: 120 }),
  REDIS_URL: Type.Optional(Type.String({ pattern: "^rediss?://" })),
  LUDUS_DELIVERY_POLL_MS: Type.Integer({ minimum: 10, maximum: 60000, default: 200 }),
  LUDUS_WEBHOOK_MAX_ATTEMPTS: Type.Integer({ minimum: 1, maximum: 100, default: 12 }),
  LUDUS_WEBHOOK_DISABLE_AFTER: Type.Integer({ minimum: 1, maximum: 100000, default: 50 }),
  LUDUS_WEBHOOK_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 120000, default: 10000 }),
  LUDUS_WEBHOOK_ALLOW_PRIVATE: Type.String({ maxLength: 2000, default: "" }),
  LUDUS_SMTP_URL: Type.Optional(Type.String({ pattern: "^smtps?://" })),
  LUDUS_SMTP_FROM: Type.String({ minLength: 3, maxLength: 300, default: "Ludus <ludus@localhost>" }),
  LUDUS_PUSH_URL: Type.Optional(Type.String({ pattern: "^https?://" })),
  LUDUS_PUSH_TOKEN: Type.Optional(Type.String({ minLength: 1, maxLength: 1000 })),
  LUDUS_STREAK_REMINDER_HOURS: Type.Integer({ minimum: 0, maximum: 168, default: 4 }),
  LUDUS_RETENTION_EVENTS_MONTHS: Type.Integer({ minimum: 0, maximum: 1200, default: 12 }),
  LUDUS_RETENTION_NOTIFICATIONS_MONTHS: Type.Integer({ minimum: 0, maximum: 1200, default: 6 }),
  LUDUS_RETENTION_AUDIT_MONTHS: Type.Integer({ minimum: 0, maximum: 1200, default: 0 }),
  LUDUS_STREAM_MAX_PER_INSTANCE: Type.Integer({ minimum: 1, maximum: 1000000, default: 10000 }),
  LUDUS_SHUTDOWN_TIMEOUT: Type.Integer({ minimum: 1, maximum: 3600, default: 8 }),
  LUDUS_TRUST_PROXY: Type.Boolean({ default: false }),
  LUDUS_CORS_ORIGINS: Type.String({ default: "" }),
  LOG_LEVEL: Type.Enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"], { default: "info" }),
});

type Env = Static<typeof EnvSchema>;

export interface Config {
  port: number;
  host: string;
  /** Connection for migrations and maintenance; unset means the embedded PostgreSQL. */
  databaseUrl: string | undefined;
  /** Connection for request work; unset means databaseUrl followed by SET ROLE ludus_app. */
  databaseAppUrl: string | undefined;
  poolSize: number;
  dataDir: string;
  embeddedPort: number;
  publicUrl: string | undefined;
  jwtSecret: string | undefined;
  accessTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
  admin: { email: string; password: string; username: string } | undefined;
  argon2: { memoryCost: number; timeCost: number };
  authRateLimitPerMinute: number;
  loginMaxFailures: number;
  loginMaxFailuresPerIp: number;
  events: { maxAgeMs: number; futureSkewMs: number; playerRateLimitPerMinute: number };
  trustProxy: boolean;
  corsOrigins: string[];
  logLevel: string;
  /** Redis for the shared rank index (several instances); unset means an index in this process. */
  redisUrl: string | undefined;
  /** Outbox dispatch, webhooks, notifications (src/delivery). */
  delivery: DeliveryOverrides;
  /** The scheduler's jobs: streak reminders, retention (src/scheduler). */
  jobs: JobSettings;
  /** How long a signalled shutdown may take in all before the process exits anyway. */
  shutdownTimeoutMs: number;
}

export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Parses and validates the environment. Throws ConfigError listing every bad variable. */
export function loadConfig(source: NodeJS.ProcessEnv = process.env): Config {
  const known = Object.keys(EnvSchema.properties);
  const raw: Record<string, unknown> = {};
  for (const key of known) {
    const value = source[key];
    if (value !== undefined && value !== "") raw[key] = value;
  }
  // Integers must be written as plain digits: Convert would turn "1.5" into 1 and "0x50" into 80.
  const notDigits = Object.entries(EnvSchema.properties)
    .filter(([key, schema]) => (schema as { type?: unknown }).type === "integer" && raw[key] !== undefined)
    .filter(([key]) => !/^\d{1,15}$/.test(String(raw[key])))
    .map(([key]) => ({ instancePath: `/${key}`, message: "must be integer" }));
  const converted = Value.Convert(EnvSchema, Value.Default(EnvSchema, raw));
  const errors = [...notDigits, ...Value.Errors(EnvSchema, converted)];
  if (errors.length > 0) {
    const lines = new Set(
      errors.map((e) => {
        const name = e.instancePath.replace(/^\//, "") || "environment";
        // Never echo secrets (passwords, keys, connection strings with credentials) into logs.
        const shown = /PASSWORD|SECRET|_TOKEN$|_URL$/.test(name)
          ? "(hidden)"
          : JSON.stringify(raw[name] ?? null);
        return `  ${name}=${shown}: ${e.message}`;
      }),
    );
    throw new ConfigError(`Invalid configuration:\n${[...lines].join("\n")}`);
  }
  const env = converted as Env;
  if ((env.LUDUS_ADMIN_EMAIL === undefined) !== (env.LUDUS_ADMIN_PASSWORD === undefined)) {
    throw new ConfigError(
      "Invalid configuration: set both LUDUS_ADMIN_EMAIL and LUDUS_ADMIN_PASSWORD, or neither",
    );
  }
  let webhookAllowPrivate: string[];
  try {
    webhookAllowPrivate = parseAllowList(env.LUDUS_WEBHOOK_ALLOW_PRIVATE);
  } catch (error) {
    throw new ConfigError(
      `Invalid configuration:\n  LUDUS_WEBHOOK_ALLOW_PRIVATE: ${(error as Error).message}`,
    );
  }
  if (env.DATABASE_APP_URL !== undefined && env.DATABASE_URL === undefined) {
    throw new ConfigError("Invalid configuration: DATABASE_APP_URL needs DATABASE_URL too");
  }
  return {
    port: env.PORT,
    host: env.HOST,
    databaseUrl: env.DATABASE_URL,
    databaseAppUrl: env.DATABASE_APP_URL,
    poolSize: env.DATABASE_POOL_SIZE,
    dataDir: path.resolve(env.LUDUS_DATA_DIR),
    embeddedPort: env.LUDUS_EMBEDDED_PORT,
    publicUrl: env.LUDUS_PUBLIC_URL,
    jwtSecret: env.LUDUS_JWT_SECRET,
    accessTokenTtlSeconds: env.LUDUS_ACCESS_TOKEN_TTL,
    refreshTokenTtlSeconds: env.LUDUS_REFRESH_TOKEN_TTL,
    admin:
      env.LUDUS_ADMIN_EMAIL !== undefined && env.LUDUS_ADMIN_PASSWORD !== undefined
        ? {
            email: env.LUDUS_ADMIN_EMAIL,
            password: env.LUDUS_ADMIN_PASSWORD,
            username: env.LUDUS_ADMIN_USERNAME,
          }
        : undefined,
    argon2: { memoryCost: env.LUDUS_ARGON2_MEMORY_KIB, timeCost: env.LUDUS_ARGON2_TIME_COST },
    authRateLimitPerMinute: env.LUDUS_AUTH_RATE_LIMIT,
    loginMaxFailures: env.LUDUS_LOGIN_MAX_FAILURES,
    loginMaxFailuresPerIp: env.LUDUS_LOGIN_MAX_FAILURES_PER_IP,
    events: {
      maxAgeMs: env.LUDUS_EVENT_MAX_AGE_HOURS * 3_600_000,
      futureSkewMs: env.LUDUS_EVENT_FUTURE_SKEW_SECONDS * 1000,
      playerRateLimitPerMinute: env.LUDUS_EVENTS_RATE_LIMIT,
    },
    trustProxy: env.LUDUS_TRUST_PROXY,
    corsOrigins: env.LUDUS_CORS_ORIGINS.split(",")
      .map((s) => s.trim())
      .filter((s) => s.length > 0),
    logLevel: env.LOG_LEVEL,
    redisUrl: env.REDIS_URL,
    jobs: {
      streakReminderWindowMs: env.LUDUS_STREAK_REMINDER_HOURS * 3_600_000,
      streakReminderEveryMs: 15 * 60_000,
      retentionMonths: {
        events: env.LUDUS_RETENTION_EVENTS_MONTHS,
        notifications: env.LUDUS_RETENTION_NOTIFICATIONS_MONTHS,
        audit_logs: env.LUDUS_RETENTION_AUDIT_MONTHS,
      },
      partitionsAhead: 4,
    },
    shutdownTimeoutMs: env.LUDUS_SHUTDOWN_TIMEOUT * 1000,
    delivery: {
      pollIntervalMs: env.LUDUS_DELIVERY_POLL_MS,
      stream: { maxPerInstance: env.LUDUS_STREAM_MAX_PER_INSTANCE },
      webhooks: {
        maxAttempts: env.LUDUS_WEBHOOK_MAX_ATTEMPTS,
        disableAfter: env.LUDUS_WEBHOOK_DISABLE_AFTER,
        timeoutMs: env.LUDUS_WEBHOOK_TIMEOUT_MS,
        allowPrivate: webhookAllowPrivate,
      },
      notifications: {
        email:
          env.LUDUS_SMTP_URL === undefined
            ? undefined
            : { url: env.LUDUS_SMTP_URL, from: env.LUDUS_SMTP_FROM },
        push:
          env.LUDUS_PUSH_URL === undefined
            ? undefined
            : { url: env.LUDUS_PUSH_URL, token: env.LUDUS_PUSH_TOKEN },
      },
    },
  };
}
