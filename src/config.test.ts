import assert from "node:assert/strict";
import path from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import { ConfigError, loadConfig } from "./config.ts";

/** The ConfigError message of loading env, or a failure if it loads. */
function configError(env: Record<string, string>): string {
  let loaded;
  try {
    loaded = loadConfig(env);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${String(error)}`);
    return error.message;
  }
  assert.fail(`loadConfig accepted ${JSON.stringify(env)} and loaded ${JSON.stringify(loaded)}`);
}

describe("loadConfig", () => {
  it("has defaults for everything when the environment is empty", () => {
    const config = loadConfig({});
    assert.deepEqual(config, {
      port: 3000,
      host: "127.0.0.1",
      databaseUrl: undefined,
      databaseAppUrl: undefined,
      poolSize: 10,
      dataDir: path.resolve(".ludus"),
      embeddedPort: 54329,
      publicUrl: undefined,
      jwtSecret: undefined,
      accessTokenTtlSeconds: 900,
      refreshTokenTtlSeconds: 2592000,
      admin: undefined,
      argon2: { memoryCost: 19456, timeCost: 2 },
      authRateLimitPerMinute: 30,
      loginMaxFailures: 5,
      loginMaxFailuresPerIp: 50,
      events: { maxAgeMs: 72 * 3_600_000, futureSkewMs: 300_000, playerRateLimitPerMinute: 120 },
      trustProxy: false,
      corsOrigins: [],
      logLevel: "info",
      redisUrl: undefined,
      jobs: {
        streakReminderWindowMs: 4 * 3_600_000,
        streakReminderEveryMs: 15 * 60_000,
        retentionMonths: { events: 12, notifications: 6, audit_logs: 0 },
        partitionsAhead: 4,
      },
      shutdownTimeoutMs: 8000,
      delivery: {
        pollIntervalMs: 200,
        stream: { maxPerInstance: 10000 },
        webhooks: { maxAttempts: 12, disableAfter: 50, timeoutMs: 10000, allowPrivate: [] },
        notifications: { email: undefined, push: undefined },
      },
    });
  });

  it("treats empty strings as unset and ignores unknown variables", () => {
    const config = loadConfig({ PORT: "", LUDUS_JWT_SECRET: "", SOMETHING_ELSE: "x", PATH: "/usr/bin" });
    assert.equal(config.port, 3000);
    assert.equal(config.jwtSecret, undefined);
  });

  it("converts text to numbers, booleans, lists and paths", () => {
    const config = loadConfig({
      PORT: "8080",
      HOST: "0.0.0.0",
      DATABASE_URL: "postgres://ludus:pw@db.example:5432/ludus",
      DATABASE_APP_URL: "postgresql://app:pw@db.example/ludus",
      DATABASE_POOL_SIZE: "25",
      LUDUS_DATA_DIR: "relative/data",
      LUDUS_PUBLIC_URL: "https://ludus.example.com",
      LUDUS_JWT_SECRET: "x".repeat(32),
      LUDUS_ACCESS_TOKEN_TTL: "600",
      LUDUS_REFRESH_TOKEN_TTL: "86400",
      LUDUS_ADMIN_EMAIL: "root@example.com",
      LUDUS_ADMIN_PASSWORD: "a long admin password",
      LUDUS_ARGON2_MEMORY_KIB: "65536",
      LUDUS_ARGON2_TIME_COST: "3",
      LUDUS_AUTH_RATE_LIMIT: "100",
      LUDUS_LOGIN_MAX_FAILURES: "7",
      LUDUS_LOGIN_MAX_FAILURES_PER_IP: "70",
      LUDUS_TRUST_PROXY: "true",
      LUDUS_CORS_ORIGINS: " https://a.example , ,https://b.example ",
      LOG_LEVEL: "debug",
    });
    assert.equal(config.port, 8080);
    assert.equal(config.host, "0.0.0.0");
    assert.equal(config.databaseUrl, "postgres://ludus:pw@db.example:5432/ludus");
    assert.equal(config.databaseAppUrl, "postgresql://app:pw@db.example/ludus");
    assert.equal(config.poolSize, 25);
    assert.equal(config.dataDir, path.resolve("relative/data"));
    assert.ok(path.isAbsolute(config.dataDir));
    assert.equal(config.publicUrl, "https://ludus.example.com");
    assert.equal(config.jwtSecret, "x".repeat(32));
    assert.equal(config.accessTokenTtlSeconds, 600);
    assert.equal(config.refreshTokenTtlSeconds, 86400);
    assert.deepEqual(config.admin, {
      email: "root@example.com",
      password: "a long admin password",
      username: "admin",
    });
    assert.deepEqual(config.argon2, { memoryCost: 65536, timeCost: 3 });
    assert.equal(config.authRateLimitPerMinute, 100);
    assert.equal(config.loginMaxFailures, 7);
    assert.equal(config.loginMaxFailuresPerIp, 70);
    assert.equal(config.trustProxy, true);
    assert.deepEqual(config.corsOrigins, ["https://a.example", "https://b.example"]);
    assert.equal(config.logLevel, "debug");
    assert.equal(loadConfig({ LUDUS_TRUST_PROXY: "false" }).trustProxy, false);
  });

  it("reads the private ranges webhooks may reach, and refuses entries that are no range", () => {
    const config = loadConfig({
      LUDUS_WEBHOOK_ALLOW_PRIVATE: " 10.1.0.0/16 , fd00::/8,192.168.1.10, loopback",
    });
    assert.deepEqual(config.delivery.webhooks?.allowPrivate, [
      "10.1.0.0/16",
      "fd00::/8",
      "192.168.1.10",
      "127.0.0.0/8",
      "::1/128",
    ]);
    for (const bad of ["10.0.0.0/33", "intranet", "10.0.0.0/8/1", "::1/200"]) {
      const message = configError({ LUDUS_WEBHOOK_ALLOW_PRIVATE: bad });
      assert.ok(message.includes("LUDUS_WEBHOOK_ALLOW_PRIVATE"), `${bad}: ${message}`);
    }
  });

  it("keeps a numeric-looking admin password as text", () => {
    const config = loadConfig({
      LUDUS_ADMIN_EMAIL: "a@example.com",
      LUDUS_ADMIN_PASSWORD: "00012345678901234567890",
    });
    assert.equal(config.admin?.password, "00012345678901234567890");
  });

  it("throws ConfigError naming the variable for a bad value", () => {
    const cases: [string, string][] = [
      ["PORT", "abc"],
      ["PORT", "70000"],
      ["PORT", "-1"],
      ["DATABASE_POOL_SIZE", "0"],
      ["LUDUS_ACCESS_TOKEN_TTL", "5"],
      ["LUDUS_TRUST_PROXY", "yes"],
      ["LOG_LEVEL", "verbose"],
      ["LUDUS_PUBLIC_URL", "ftp://x"],
      ["LUDUS_ADMIN_EMAIL", "not-an-email"],
      ["LUDUS_ADMIN_USERNAME", "ab"],
    ];
    for (const [name, value] of cases) {
      const env: Record<string, string> = { [name]: value };
      if (name === "LUDUS_ADMIN_EMAIL") env.LUDUS_ADMIN_PASSWORD = "a long enough password";
      const message = configError(env);
      assert.ok(message.includes(name), `${name}=${value}: ${message}`);
    }
  });

  it("lists every bad variable at once", () => {
    const message = configError({ PORT: "abc", LOG_LEVEL: "loud", DATABASE_POOL_SIZE: "9999" });
    for (const name of ["PORT", "LOG_LEVEL", "DATABASE_POOL_SIZE"])
      assert.ok(message.includes(name), message);
  });

  it("refuses fractional values for integer settings instead of truncating them", () => {
    const cases: [string, string][] = [
      ["PORT", "1.5"],
      ["LUDUS_ACCESS_TOKEN_TTL", "90.5"],
    ];
    for (const [name, value] of cases) {
      const message = configError({ [name]: value });
      assert.ok(message.includes(name), message);
    }
  });

  it("needs the admin email and password together", () => {
    assert.match(configError({ LUDUS_ADMIN_EMAIL: "a@example.com" }), /LUDUS_ADMIN_PASSWORD/);
    assert.match(configError({ LUDUS_ADMIN_PASSWORD: "a long enough password" }), /LUDUS_ADMIN_EMAIL/);
    assert.match(configError({ DATABASE_APP_URL: "postgres://app@db/ludus" }), /DATABASE_URL/);
  });

  it("never echoes secret values in the message", () => {
    const secrets = {
      LUDUS_ADMIN_PASSWORD: "Hx7#short",
      LUDUS_JWT_SECRET: "jwt-Kq93-too-short",
      DATABASE_URL: "mysql://ludus:hunter2-Zp4@db.example/ludus",
      DATABASE_APP_URL: "mariadb://app:s3cr3t-Wv8@db.example/ludus",
    };
    const message = configError({ ...secrets, LUDUS_ADMIN_EMAIL: "root@example.com", PORT: "abc" });
    for (const [name, value] of Object.entries(secrets)) {
      assert.ok(message.includes(name), `names ${name}: ${message}`);
      assert.ok(!message.includes(value), `echoes ${name}: ${message}`);
    }
    for (const fragment of ["Hx7#", "Kq93", "hunter2", "s3cr3t", "ludus:", "db.example"]) {
      assert.ok(!message.includes(fragment), `echoes ${fragment}: ${message}`);
    }
    // A non-secret value may be shown, which helps the operator.
    assert.ok(message.includes('"abc"'), message);
  });

  it("never echoes a rejected admin password or JWT secret, whatever it is (property)", () => {
    // Distinctive alphabet so a secret cannot coincide with text of the message itself.
    const secretChars = fc.constantFrom(..."QZXJKVqzxjkv0123456789#%&!?~");
    fc.assert(
      fc.property(
        fc.string({ unit: secretChars, minLength: 4, maxLength: 9 }),
        fc.string({ unit: secretChars, minLength: 4, maxLength: 31 }),
        (password, jwtSecret) => {
          const message = configError({
            LUDUS_ADMIN_EMAIL: "root@example.com",
            LUDUS_ADMIN_PASSWORD: password,
            LUDUS_JWT_SECRET: jwtSecret,
          });
          assert.ok(message.includes("LUDUS_ADMIN_PASSWORD") && message.includes("LUDUS_JWT_SECRET"));
          assert.ok(!message.includes(password), message);
          assert.ok(!message.includes(jwtSecret), message);
        },
      ),
      { numRuns: 100 },
    );
  });
});
