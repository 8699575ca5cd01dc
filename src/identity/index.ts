import type { Config } from "../config.ts";
import type { Clock } from "../platform/clock.ts";
import type { Database } from "../platform/db/database.ts";
import { NOTIFY_CHANNEL } from "../engine/definitions.ts";
import { AccountService } from "./account.service.ts";
import { AdminUsersService } from "./admin.service.ts";
import { ApiKeyService } from "./api-keys.ts";
import { AuthService } from "./auth.service.ts";
import { createGuards } from "./guards.ts";
import { LoginThrottle } from "./login-throttle.ts";
import { PasswordHasher } from "./passwords.ts";
import { AccessTokens } from "./tokens.ts";

export type IdentitySettings = Pick<
  Config,
  "argon2" | "accessTokenTtlSeconds" | "refreshTokenTtlSeconds" | "loginMaxFailures" | "loginMaxFailuresPerIp"
>;

/** Builds the identity feature's services; the HTTP app and the CLI both use it. */
export function createIdentity(db: Database, clock: Clock, settings: IdentitySettings, jwtSecret: string) {
  const hasher = new PasswordHasher(settings.argon2);
  const tokens = new AccessTokens(jwtSecret, settings.accessTokenTtlSeconds, clock);
  const apiKeys = new ApiKeyService(db, clock, NOTIFY_CHANNEL);
  return {
    hasher,
    tokens,
    apiKeys,
    auth: new AuthService(db, clock, hasher, tokens, new LoginThrottle(clock), settings),
    account: new AccountService(db, clock, hasher),
    adminUsers: new AdminUsersService(db, clock),
    guards: createGuards({ db, tokens, apiKeys }),
  };
}

export type Identity = ReturnType<typeof createIdentity>;
