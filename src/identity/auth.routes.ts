import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { NoContent, problems } from "../platform/http/schemas.ts";
import type { AuthService } from "./auth.service.ts";
import { currentUser, requestMeta, type Guards } from "./guards.ts";
import { AuthResult, LoginBody, RefreshBody, RegisterBody, TokenPair } from "./schemas.ts";

export interface AuthRoutesDeps {
  auth: AuthService;
  guards: Guards;
  rateLimitPerMinute: number;
}

export const authRoutes: FastifyPluginAsyncTypebox<AuthRoutesDeps> = async (
  app,
  { auth, guards, rateLimitPerMinute },
) => {
  // Per client address; the login throttle adds per-account lockouts on top.
  const rateLimit = { max: rateLimitPerMinute, timeWindow: "1 minute" };
  const tags = ["auth"];

  app.post(
    "/register",
    {
      config: { rateLimit },
      schema: {
        tags,
        summary: "Create a player account and sign in",
        body: RegisterBody,
        response: { 201: AuthResult, ...problems(409, 422) },
      },
    },
    async (request, reply) => {
      return reply.status(201).send(await auth.register(request.body, requestMeta(request)));
    },
  );

  app.post(
    "/login",
    {
      config: { rateLimit },
      schema: {
        tags,
        summary: "Sign in with email or username",
        description:
          "Wrong login and wrong password give the same answer. Repeated failures lock the account and address for a growing time.",
        body: LoginBody,
        response: { 200: AuthResult, ...problems(401, 403) },
      },
    },
    async (request) => auth.login(request.body.login, request.body.password, requestMeta(request)),
  );

  app.post(
    "/refresh",
    {
      config: { rateLimit },
      schema: {
        tags,
        summary: "Exchange a refresh token for a new token pair",
        description:
          "Refresh tokens rotate: each works once. Presenting a used one revokes the whole session.",
        body: RefreshBody,
        response: { 200: TokenPair, ...problems(401, 403) },
      },
    },
    async (request) => auth.refresh(request.body.refreshToken, requestMeta(request)),
  );

  app.post(
    "/logout",
    {
      preHandler: guards.user,
      schema: {
        tags,
        summary: "End the current session",
        security: [{ bearer: [] }],
        response: { 204: NoContent, ...problems(401, 403) },
      },
    },
    async (request, reply) => {
      const user = currentUser(request);
      await auth.logout(user.userId, user.sessionId, requestMeta(request));
      return reply.status(204).send(null);
    },
  );
};
