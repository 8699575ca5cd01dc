import type { FastifyRequest } from "fastify";
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

/**
 * preHandler hooks that establish who is calling. Access tokens are checked against their session
 * on every request, so logout, revocation, deactivation and role changes take effect at once.
 */
export function createGuards(deps: { db: Database; tokens: AccessTokens; apiKeys: ApiKeyService }) {
  function bearer(request: FastifyRequest): string {
    const header = request.headers.authorization;
    const apiKeyHeader = request.headers["x-api-key"];
    if (typeof apiKeyHeader === "string" && apiKeyHeader.length > 0) {
      // X-API-Key carries API keys only; user tokens go in Authorization.
      if (!apiKeyHeader.startsWith(API_KEY_PREFIX))
        throw new AppError("auth.invalid_token", "The API key is not valid");
      return apiKeyHeader;
    }
    if (typeof header !== "string" || !/^Bearer\s+\S+$/i.test(header)) {
      throw new AppError("auth.unauthenticated", "Send 'Authorization: Bearer <token>'");
    }
    return header.replace(/^Bearer\s+/i, "");
  }

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
    const token = bearer(request);
    if (token.startsWith(API_KEY_PREFIX)) {
      const key = token.length <= 200 ? await deps.apiKeys.authenticate(token) : undefined;
      if (key === undefined) throw new AppError("auth.invalid_token", "The API key is not valid");
      return { kind: "apiKey", keyId: key.id, scopes: key.scopes };
    }
    return authenticateUser(token);
  }

  return {
    /** Anyone with valid credentials: a signed-in user or an API key (the service decides the rest). */
    any: async (request: FastifyRequest): Promise<void> => {
      request.principal = await authenticate(request);
    },
    /** A signed-in user (any role). */
    user: async (request: FastifyRequest): Promise<void> => {
      const principal = await authenticate(request);
      if (principal.kind !== "user")
        throw new AppError("auth.forbidden", "This route is for signed-in users");
      request.principal = principal;
    },
    /**
     * A signed-in user, by access token or, for the realtime stream that browsers open by URL, by
     * a stream ticket in `?ticket=` (never both).
     */
    streamUser: async (request: FastifyRequest): Promise<void> => {
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
    },
    /** A signed-in user with at least this role. */
    role:
      (minimum: Role) =>
      async (request: FastifyRequest): Promise<void> => {
        const principal = await authenticate(request);
        if (principal.kind !== "user" || RANK[principal.role] < RANK[minimum]) {
          throw new AppError("auth.forbidden", `This route needs the ${minimum} role`);
        }
        request.principal = principal;
      },
    /** An app backend's API key holding the scope, or a signed-in admin. */
    scope:
      (scope: ApiKeyScope) =>
      async (request: FastifyRequest): Promise<void> => {
        const principal = await authenticate(request);
        const allowed =
          principal.kind === "apiKey" ? principal.scopes.includes(scope) : principal.role === "admin";
        if (!allowed) throw new AppError("auth.insufficient_scope", `This route needs the '${scope}' scope`);
        request.principal = principal;
      },
  };
}

export type Guards = ReturnType<typeof createGuards>;
