import { audit, type RequestMeta } from "../audit/audit.service.ts";
import type { Clock } from "../platform/clock.ts";
import { randomToken, sha256 } from "../platform/crypto.ts";
import type { Database, Tx } from "../platform/db/database.ts";
import { AppError } from "../platform/http/errors.ts";
import type { LoginThrottle, ThrottleKey } from "./login-throttle.ts";
import { normaliseDisplayName } from "./display-names.ts";
import { passwordProblem, type PasswordHasher } from "./passwords.ts";
import { userView, type UserView } from "./presenters.ts";
import * as sessions from "./sessions.store.ts";
import { isTimeZone } from "./time-zones.ts";
import * as users from "./users.store.ts";
import type { AccessTokens } from "./tokens.ts";

export interface AuthSettings {
  refreshTokenTtlSeconds: number;
  loginMaxFailures: number;
  loginMaxFailuresPerIp: number;
}

export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  tokenType: "Bearer";
  expiresIn: number;
  sessionId: string;
}

export interface Registration {
  email: string;
  username: string;
  password: string;
  displayName?: string;
  timeZone?: string;
  locale?: string;
}

/** The throttle's key for a login as typed: case, compatibility forms and edge spaces do not matter. */
export function normaliseLogin(login: string): string {
  return login.normalize("NFKC").trim().toLowerCase();
}

export class AuthService {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly hasher: PasswordHasher,
    private readonly tokens: AccessTokens,
    private readonly throttle: LoginThrottle,
    private readonly settings: AuthSettings,
  ) {}

  /** Creates a player account and signs it in. */
  async register(input: Registration, meta: RequestMeta): Promise<{ user: UserView; tokens: TokenPair }> {
    return this.createAccount(input, "player", meta, true);
  }

  /** Creates an account of any role without signing in: the admin bootstrap and `ludus admin create`. */
  async createUser(input: Registration, role: users.Role, meta: RequestMeta): Promise<UserView> {
    return (await this.createAccount(input, role, meta, false)).user;
  }

  private async createAccount<SignIn extends boolean>(
    input: Registration,
    role: users.Role,
    meta: RequestMeta,
    signIn: SignIn,
  ): Promise<{ user: UserView; tokens: SignIn extends true ? TokenPair : null }> {
    const problem = passwordProblem(input.password, input);
    if (problem !== undefined) {
      throw new AppError("auth.password_rejected", `The password ${problem}`, {
        errors: [{ path: "body/password", message: problem }],
      });
    }
    if (input.timeZone !== undefined && !isTimeZone(input.timeZone)) {
      throw new AppError("validation.failed", "Unknown time zone", {
        errors: [{ path: "body/timeZone", message: "is not an IANA time zone" }],
      });
    }
    const displayName =
      input.displayName === undefined ? input.username : normaliseDisplayName(input.displayName);
    const passwordHash = await this.hasher.hash(input.password);
    return this.db.asSystem(async (tx) => {
      const taken = await users.emailOrUsernameTaken(tx, input.email, input.username);
      if (taken.email) throw new AppError("user.email_taken", "An account with this email exists");
      if (taken.username) throw new AppError("user.username_taken", "This username is taken");
      const user = await users.insertUser(tx, {
        email: input.email,
        username: input.username,
        passwordHash,
        displayName,
        role,
        timeZone: input.timeZone ?? "UTC",
        locale: input.locale ?? "en",
      });
      await audit(tx, { type: "user", id: user.id }, meta, {
        action: "user.registered",
        resourceType: "user",
        resourceId: user.id,
        after: { username: user.username, role: user.role },
      });
      const tokens = signIn ? await this.startSession(tx, user.id, meta) : null;
      return { user: userView(user), tokens: tokens as SignIn extends true ? TokenPair : null };
    });
  }

  async login(
    login: string,
    password: string,
    meta: RequestMeta,
  ): Promise<{ user: UserView; tokens: TokenPair }> {
    const maxFailures = this.settings.loginMaxFailures;
    const ipKey: ThrottleKey[] =
      meta.ip === null ? [] : [{ key: `ip:${meta.ip}`, maxFailures: this.settings.loginMaxFailuresPerIp }];
    // The spelling is throttled whether or not an account has it, so a 429 says nothing about
    // accounts; the account itself is throttled too, but silently (see below).
    const spellingKey: ThrottleKey = { key: `login:${normaliseLogin(login)}`, maxFailures };
    // The attempt is counted before the slow hash, so parallel guesses cannot outrun the lockout.
    const found = await this.db.asSystem(async (tx) => {
      const user = await users.findUserByLogin(tx, login);
      const accountKey: ThrottleKey | undefined =
        user === undefined ? undefined : { key: `account:${user.id}`, maxFailures };
      const { locked } = await this.throttle.reserve(tx, [
        spellingKey,
        ...ipKey,
        ...(accountKey === undefined ? [] : [accountKey]),
      ]);
      const refusing = locked.filter((l) => l.key !== accountKey?.key);
      if (refusing.length > 0) {
        // Thrown inside the transaction, so the attempts counted on the other keys are rolled back.
        const until = Math.max(...refusing.map((l) => l.until.getTime()));
        throw new AppError("auth.too_many_attempts", "Too many failed logins; try again later", {
          retryAfterSeconds: (until - this.clock.now().getTime()) / 1000,
        });
      }
      return { user, accountKey, accountLocked: locked.length > 0 };
    });
    // A locked account reached through another spelling (its email after its username was locked,
    // say) answers exactly like a wrong password, after the same dummy hash: answering 429 would
    // tell the caller that the two spellings are one account. Its password is not checked.
    const user = found.accountLocked ? undefined : found.user;
    // The slow hash runs outside any transaction so it holds no database connection.
    const ok = await this.hasher.verify(user?.password_hash ?? null, password);
    if (!ok || user === undefined) {
      if (found.user !== undefined) {
        const account = found.user;
        await this.db.asSystem((tx) =>
          audit(tx, { type: "user", id: account.id }, meta, {
            action: "auth.login_failed",
            resourceType: "user",
            resourceId: account.id,
          }),
        );
      }
      throw new AppError("auth.invalid_credentials", "Wrong login or password");
    }
    if (!user.is_active || user.deleted_at !== null) {
      throw new AppError("auth.account_inactive", "This account is deactivated");
    }
    return this.db.asSystem(async (tx) => {
      // Settle the reservation: the account and this spelling are forgotten, the address gets its
      // attempt back.
      // In the order reservations take their row locks ("account:" < "ip:" < "login:"), so a
      // settling login and a reserving one never wait for each other in a cycle.
      if (found.accountKey !== undefined) await this.throttle.reset(tx, found.accountKey.key);
      for (const key of ipKey) await this.throttle.release(tx, key);
      await this.throttle.reset(tx, spellingKey.key);
      await users.markLoggedIn(tx, user.id, this.clock.now());
      const tokens = await this.startSession(tx, user.id, meta);
      await audit(tx, { type: "user", id: user.id }, meta, {
        action: "auth.login",
        resourceType: "session",
        resourceId: tokens.sessionId,
      });
      return { user: userView({ ...user, last_login_at: this.clock.now() }), tokens };
    });
  }

  /**
   * Exchanges a refresh token for a new pair. Each token works once: presenting a used token means it
   * was stolen or replayed, so the whole session (token family) is revoked.
   */
  async refresh(refreshToken: string, meta: RequestMeta): Promise<TokenPair> {
    const now = this.clock.now();
    type Refused =
      | "auth.refresh_token_invalid"
      | "auth.session_revoked"
      | "auth.refresh_token_reused"
      | "auth.account_inactive";
    const outcome = await this.db.asSystem(async (tx): Promise<{ error: Refused } | { pair: TokenPair }> => {
      const token = await sessions.lockRefreshToken(tx, sha256(refreshToken));
      if (token === undefined) return { error: "auth.refresh_token_invalid" };
      const auth = await sessions.findSessionForAuth(tx, token.session_id);
      if (auth === undefined || auth.revoked) return { error: "auth.session_revoked" };
      if (token.used_at !== null) {
        await sessions.revokeSession(tx, token.user_id, token.session_id, now, "refresh_token_reused");
        await audit(tx, { type: "user", id: token.user_id }, meta, {
          action: "auth.refresh_reuse_detected",
          resourceType: "session",
          resourceId: token.session_id,
        });
        return { error: "auth.refresh_token_reused" };
      }
      if (token.expires_at <= now || auth.expires_at <= now) return { error: "auth.refresh_token_invalid" };
      if (!auth.usable) return { error: "auth.account_inactive" };
      await sessions.markRefreshTokenUsed(tx, token.id, now);
      return { pair: await this.rotate(tx, token.user_id, token.session_id) };
    });
    // Errors are thrown only after the transaction committed, so a reuse revocation is kept.
    if ("error" in outcome) {
      const messages: Record<Refused, string> = {
        "auth.refresh_token_invalid": "The refresh token is not valid",
        "auth.session_revoked": "The session has ended",
        "auth.refresh_token_reused": "The refresh token was already used; the session is revoked",
        "auth.account_inactive": "This account is deactivated",
      };
      throw new AppError(outcome.error, messages[outcome.error]);
    }
    return outcome.pair;
  }

  async logout(userId: string, sessionId: string, meta: RequestMeta): Promise<void> {
    await this.db.asUser(userId, async (tx) => {
      await sessions.revokeSession(tx, userId, sessionId, this.clock.now(), "logout");
      await audit(tx, { type: "user", id: userId }, meta, {
        action: "auth.logout",
        resourceType: "session",
        resourceId: sessionId,
      });
    });
  }

  private async startSession(tx: Tx, userId: string, meta: RequestMeta): Promise<TokenPair> {
    const now = this.clock.now();
    const session = await sessions.insertSession(tx, {
      userId,
      ip: meta.ip,
      userAgent: meta.userAgent?.slice(0, 512) ?? null,
      now,
      expiresAt: this.refreshExpiry(now),
    });
    return this.issue(tx, userId, session.id);
  }

  private async rotate(tx: Tx, userId: string, sessionId: string): Promise<TokenPair> {
    const now = this.clock.now();
    await sessions.touchSession(tx, sessionId, now, this.refreshExpiry(now));
    return this.issue(tx, userId, sessionId);
  }

  private async issue(tx: Tx, userId: string, sessionId: string): Promise<TokenPair> {
    const now = this.clock.now();
    const refreshToken = randomToken();
    await sessions.insertRefreshToken(tx, {
      sessionId,
      userId,
      hash: sha256(refreshToken),
      now,
      expiresAt: this.refreshExpiry(now),
    });
    return {
      accessToken: await this.tokens.sign({ userId, sessionId }),
      refreshToken,
      tokenType: "Bearer",
      expiresIn: this.tokens.ttlSeconds,
      sessionId,
    };
  }

  private refreshExpiry(now: Date): Date {
    return new Date(now.getTime() + this.settings.refreshTokenTtlSeconds * 1000);
  }
}
