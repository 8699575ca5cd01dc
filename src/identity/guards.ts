import type { FastifyInstance, FastifyRequest } from "fastify";
import type { AuditActor, RequestMeta } from "../audit/audit.service.ts";
import type { Database } from "../platform/db/database.ts";
import { AppError } from "../platform/http/errors.ts";
import { API_KEY_PREFIX, type ApiKeyScope, type ApiKeyService } from "./api-keys.ts";
import * as sessions from "./sessions.store.ts";
import type { AccessTokens } from "./tokens.ts";
import type { Role } from "./users.store.ts";

export type Principal =
  | { kind: "user"; userId: string; sessionId: string; role: Role }
  | { kind: "apiKey"; keyId: string; scopes: string[] };

declare module "fastify" {
  interface FastifyRequest {
    principal: Principal | null;
  }
}

const RANK: Record<Role, number> = { player: 0, moderator: 1, admin: 2 };

export function requestMeta(request: FastifyRequest): RequestMeta {
  const agent = request.headers["user-agent"];
  return {
    ip: request.ip || null,
    userAgent: typeof agent === "string" ? agent : null,
    requestId: String(request.id),
  };
}

export function actorOf(principal: Principal): AuditActor {
  return principal.kind === "user"
    ? { type: "user", id: principal.userId }
    : { type: "api_key", id: principal.keyId };
}

/** The caller of a route guarded by `any`. */
export function currentPrincipal(request: FastifyRequest): Principal {
  if (request.principal === null) throw new AppError("auth.unauthenticated", "Sign in first");
  return request.principal;
}

/** The signed-in user of a route guarded by `user` or `role`. */
export function currentUser(request: FastifyRequest): Extract<Principal, { kind: "user" }> {
  const p = request.principal;
  if (p?.kind !== "user") throw new AppError("auth.unauthenticated", "Sign in first");
  return p;
}

/** A request's credential, parsed once from its headers. */
export type Credential =
  { kind: "none" } | { kind: "apiKey"; key: string } | { kind: "token"; token: string };

// `Authorization: Bearer <token>`: the scheme in any case (RFC 9110), then a token68 (RFC 9110 §11.2).
const BEARER = /^Bearer[ \t]+([A-Za-z0-9\-._~+/]+=*)[ \t]*$/i;
const API_KEY = new RegExp(`^${API_KEY_PREFIX}[A-Za-z0-9]+_[A-Za-z0-9_-]+$`);
const MAX_CREDENTIAL_LENGTH = 4096;

/**
 * Reads the caller's credential from `Authorization` or `X-API-Key`. A header that is present
 * must hold a well-formed credential: an empty or malformed one, or both headers at once, is a 401
 * (never "no credential", which would let a request pick the rules it is judged by).
 */
export function parseCredential(request: FastifyRequest): Credential {
  const authorization = request.headers.authorization;
  const apiKeyHeader = request.headers["x-api-key"];
  if (authorization !== undefined && apiKeyHeader !== undefined)
    throw new AppError("auth.invalid_token", "Send one credential: Authorization or X-API-Key, not both");
  if (apiKeyHeader !== undefined) {
    const key = typeof apiKeyHeader === "string" ? apiKeyHeader.trim() : "";
    // X-API-Key carries API keys only; user tokens go in Authorization.
    if (key.length > 200 || !API_KEY.test(key))
      throw new AppError("auth.invalid_token", "The API key is not valid");
    return { kind: "apiKey", key };
  }
  if (authorization === undefined) return { kind: "none" };
  const token = authorization.length <= MAX_CREDENTIAL_LENGTH ? BEARER.exec(authorization)?.[1] : undefined;
  if (token === undefined)
    throw new AppError("auth.invalid_token", "Send 'Authorization: Bearer <token>' with a well-formed token");
  if (token.startsWith(API_KEY_PREFIX)) {
    if (token.length > 200 || !API_KEY.test(token))
      throw new AppError("auth.invalid_token", "The API key is not valid");
    return { kind: "apiKey", key: token };
  }
  return { kind: "token", token };
}

/** A rate-limit key for the authenticated caller: the same whatever spelling its headers used. */
export function principalKey(request: FastifyRequest): string {
  const p = request.principal;
  if (p === null) return `ip:${request.ip}`;
  return p.kind === "user" ? `user:${p.userId}` : `apiKey:${p.keyId}`;
}

const GUARDS = new WeakSet<object>();

/**
 * Guards are written as `preHandler: guards.x` on routes; this moves them to `onRequest`, so that
 * who is calling is settled before the body is read or validated (an anonymous caller gets a 401,
 * never a 400 describing the schema) and before route hooks that key on the principal, such as
 * rate limits. Register it before any route.
 */
export function authenticateOnRequest(app: FastifyInstance): void {
  app.addHook("onRoute", (route) => {
    const pre = route.preHandler;
    const list = pre === undefined ? [] : Array.isArray(pre) ? [...pre] : [pre];
    const guards = list.filter((hook) => GUARDS.has(hook));
    if (guards.length === 0) return;
    route.preHandler = list.filter((hook) => !GUARDS.has(hook));
    const on = route.onRequest;
    route.onRequest = [...(on === undefined ? [] : Array.isArray(on) ? on : [on]), ...guards];
  });
}

/**
 * Hooks that establish who is calling (run on request; see `authenticateOnRequest`). Access tokens
 * are checked against their session on every request, so logout, revocation, deactivation and role
 * changes take effect at once.
 */
export function createGuards(deps: { db: Database; tokens: AccessTokens; apiKeys: ApiKeyService }) {
  const guard = <F extends (request: FastifyRequest) => Promise<void>>(hook: F): F => {
    GUARDS.add(hook);
    return hook;
  };

  async function authenticateUser(token: string, ticket = false): Promise<Principal> {
    if (token.length > 4096) throw new AppError("auth.invalid_token", "The token is not valid");
    const claims = ticket ? await deps.tokens.verifyStreamTicket(token) : await deps.tokens.verify(token);
    const row = await deps.db.asUser(claims.userId, (tx) =>
      sessions.findSessionForAuth(tx, claims.sessionId),
    );
    if (row === undefined || row.user_id !== claims.userId || row.revoked) {
      throw new AppError("auth.session_revoked", "The session has ended; sign in again");
    }
    if (!row.usable) throw new AppError("auth.account_inactive", "This account is deactivated");
    return { kind: "user", userId: claims.userId, sessionId: claims.sessionId, role: row.role };
  }

  async function authenticate(request: FastifyRequest): Promise<Principal> {
    const credential = parseCredential(request);
    if (credential.kind === "none")
      throw new AppError("auth.unauthenticated", "Send 'Authorization: Bearer <token>'");
    if (credential.kind === "apiKey") {
      const key = await deps.apiKeys.authenticate(credential.key);
      if (key === undefined) throw new AppError("auth.invalid_token", "The API key is not valid");
      return { kind: "apiKey", keyId: key.id, scopes: key.scopes };
    }
    return authenticateUser(credential.token);
  }

  return {
    /** Anyone with valid credentials: a signed-in user or an API key (the service decides the rest). */
    any: guard(async (request: FastifyRequest): Promise<void> => {
      request.principal = await authenticate(request);
    }),
    /** A signed-in user (any role). */
    user: guard(async (request: FastifyRequest): Promise<void> => {
      const principal = await authenticate(request);
      if (principal.kind !== "user")
        throw new AppError("auth.forbidden", "This route is for signed-in users");
      request.principal = principal;
    }),
    /**
     * A signed-in user, by access token or, for the realtime stream that browsers open by URL, by
     * a stream ticket in `?ticket=` (never both).
     */
    streamUser: guard(async (request: FastifyRequest): Promise<void> => {
      const { ticket } = (request.query ?? {}) as { ticket?: unknown };
      if (typeof ticket === "string") {
        if (request.headers.authorization !== undefined || request.headers["x-api-key"] !== undefined)
          throw new AppError("auth.invalid_token", "Send a ticket or an Authorization header, not both");
        request.principal = await authenticateUser(ticket, true);
        return;
      }
      const principal = await authenticate(request);
      if (principal.kind !== "user")
        throw new AppError("auth.forbidden", "This route is for signed-in users");
      request.principal = principal;
    }),
    /** A signed-in user with at least this role. */
    role: (minimum: Role) =>
      guard(async (request: FastifyRequest): Promise<void> => {
        const principal = await authenticate(request);
        if (principal.kind !== "user" || RANK[principal.role] < RANK[minimum]) {
          throw new AppError("auth.forbidden", `This route needs the ${minimum} role`);
        }
        request.principal = principal;
      }),
    /** An app backend's API key holding the scope, or a signed-in admin. */
    scope: (scope: ApiKeyScope) =>
      guard(async (request: FastifyRequest): Promise<void> => {
        const principal = await authenticate(request);
        const allowed =
          principal.kind === "apiKey" ? principal.scopes.includes(scope) : principal.role === "admin";
        if (!allowed) throw new AppError("auth.insufficient_scope", `This route needs the '${scope}' scope`);
        request.principal = principal;
      }),
  };
}

export type Guards = ReturnType<typeof createGuards>;
