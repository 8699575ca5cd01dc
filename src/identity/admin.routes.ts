import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import { IdParams, Page, problems } from "../platform/http/schemas.ts";
import type { AdminUsersService } from "./admin.service.ts";
import type { ApiKeyService } from "./api-keys.ts";
import { actorOf, currentUser, requestMeta, type Guards } from "./guards.ts";
import { ApiKey, CreateApiKeyBody, SetRoleBody, User, UserListQuery } from "./schemas.ts";

export const adminUserRoutes: FastifyPluginAsyncTypebox<{
  adminUsers: AdminUsersService;
  apiKeys: ApiKeyService;
  guards: Guards;
}> = async (app, { adminUsers, apiKeys, guards }) => {
  const security = [{ bearer: [] }];
  const tags = ["admin"];
  const admin = guards.role("admin");
  const moderator = guards.role("moderator");

  app.get(
    "/users",
    {
      preHandler: moderator,
      schema: {
        tags,
        security,
        summary: "List and search users (moderator or admin)",
        querystring: UserListQuery,
        response: { 200: Page(User), ...problems(401, 403) },
      },
    },
    async (request) => adminUsers.list(request.query),
  );

  app.get(
    "/users/:id",
    {
      preHandler: moderator,
      schema: {
        tags,
        security,
        summary: "One user",
        params: IdParams,
        response: { 200: User, ...problems(401, 403, 404) },
      },
    },
    async (request) => adminUsers.get(request.params.id),
  );

  app.put(
    "/users/:id/role",
    {
      preHandler: admin,
      schema: {
        tags,
        security,
        summary: "Change a user's role",
        params: IdParams,
        body: SetRoleBody,
        response: { 200: User, ...problems(401, 403, 404, 409) },
      },
    },
    async (request) =>
      adminUsers.setRole(
        actorOf(currentUser(request)),
        requestMeta(request),
        request.params.id,
        request.body.role,
      ),
  );

  for (const [path, active, summary] of [
    ["deactivate", false, "Deactivate a user and end their sessions"],
    ["activate", true, "Reactivate a user"],
  ] as const) {
    app.post(
      `/users/:id/${path}`,
      {
        preHandler: admin,
        schema: {
          tags,
          security,
          summary,
          params: IdParams,
          response: { 200: User, ...problems(401, 403, 404, 409) },
        },
      },
      async (request) =>
        adminUsers.setActive(actorOf(currentUser(request)), requestMeta(request), request.params.id, active),
    );
  }

  app.post(
    "/users/:id/erase",
    {
      preHandler: admin,
      schema: {
        tags,
        security,
        summary: "Erase a user's personal data (GDPR)",
        params: IdParams,
        response: { 200: User, ...problems(401, 403, 404, 409) },
      },
    },
    async (request) =>
      adminUsers.erase(actorOf(currentUser(request)), requestMeta(request), request.params.id),
  );

  app.post(
    "/api-keys",
    {
      preHandler: admin,
      schema: {
        tags,
        security,
        summary: "Create an API key for an app backend",
        description: "The key is in this answer only; Ludus keeps just its hash.",
        body: CreateApiKeyBody,
        response: {
          201: Type.Intersect([ApiKey, Type.Object({ key: Type.String() })]),
          ...problems(401, 403),
        },
      },
    },
    async (request, reply) => {
      const created = await apiKeys.create(actorOf(currentUser(request)), requestMeta(request), request.body);
      return reply.status(201).send(created);
    },
  );

  app.get(
    "/api-keys",
    {
      preHandler: admin,
      schema: {
        tags,
        security,
        summary: "List API keys",
        response: { 200: Type.Object({ items: Type.Array(ApiKey) }), ...problems(401, 403) },
      },
    },
    async () => ({ items: await apiKeys.list() }),
  );

  app.delete(
    "/api-keys/:id",
    {
      preHandler: admin,
      schema: {
        tags,
        security,
        summary: "Revoke an API key",
        params: IdParams,
        response: { 200: ApiKey, ...problems(401, 403, 404) },
      },
    },
    async (request) => apiKeys.revoke(actorOf(currentUser(request)), requestMeta(request), request.params.id),
  );
};
