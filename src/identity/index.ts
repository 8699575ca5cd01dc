import type { Config } from "../config.ts";
import type { Clock } from "../platform/clock.ts";
import type { Database, Tx } from "../platform/db/database.ts";
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

/**
 * Told, inside the transaction that makes the change, when a player stops counting (deactivated,
 * deleted, erased: `listed` false) or counts again (reactivated): boards hide or show them.
 */
export type StandingListener = (tx: Tx, userId: string, listed: boolean) => Promise<void>;

/** Scrubs one feature's personal data of an erased player, in the erasure's transaction. */
export type Eraser = (tx: Tx, userId: string) => Promise<void>;

/** Builds the identity feature's services; the HTTP app and the CLI both use it. */
export function createIdentity(db: Database, clock: Clock, settings: IdentitySettings, jwtSecret: string) {
  const hasher = new PasswordHasher(settings.argon2);
  const standing: StandingListener[] = [];
  const erasers: Eraser[] = [];
  const tokens = new AccessTokens(jwtSecret, settings.accessTokenTtlSeconds, clock);
  const apiKeys = new ApiKeyService(db, clock, NOTIFY_CHANNEL);
  return {
    hasher,
    tokens,
    apiKeys,
    auth: new AuthService(db, clock, hasher, tokens, new LoginThrottle(clock), settings),
    account: new AccountService(db, clock, hasher, standing),
    adminUsers: new AdminUsersService(db, clock, standing, erasers),
    /** Registers what else erasure must scrub of a player's personal data (other features' rows). */
    onErase(eraser: Eraser): void {
      erasers.push(eraser);
    },
    /** Registers what must follow a player's standing (composition wires the leaderboards). */
    onStandingChange(listener: StandingListener): void {
      standing.push(listener);
    },
    guards: createGuards({ db, tokens, apiKeys }),
  };
}

export type Identity = ReturnType<typeof createIdentity>;
