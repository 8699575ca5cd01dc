import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import { IdParams, NoContent, problems } from "../platform/http/schemas.ts";
import type { AccountService } from "./account.service.ts";
import { currentUser, requestMeta, type Guards } from "./guards.ts";
import { ChangePasswordBody, DeleteMeBody, Session, UpdateMeBody, User } from "./schemas.ts";

export const meRoutes: FastifyPluginAsyncTypebox<{ account: AccountService; guards: Guards }> = async (
  app,
  { account, guards },
) => {
  const tags = ["me"];
  const security = [{ bearer: [] }];
  app.addHook("onRequest", guards.user);

  app.get(
    "/",
    {
      schema: {
        tags,
        security,
        summary: "My account and profile",
        response: { 200: User, ...problems(401, 403) },
      },
    },
    async (request) => account.get(currentUser(request).userId),
  );

  app.patch(
    "/",
    {
      schema: {
        tags,
        security,
        summary: "Change my display name, username or profile",
        body: UpdateMeBody,
        response: { 200: User, ...problems(401, 403, 409) },
      },
    },
    async (request) => account.update(currentUser(request).userId, request.body, requestMeta(request)),
  );

  app.post(
    "/password",
    {
      schema: {
        tags,
        security,
        summary: "Change my password; ends my other sessions",
        body: ChangePasswordBody,
        response: { 200: Type.Object({ revokedSessions: Type.Integer() }), ...problems(401, 403, 422) },
      },
    },
    async (request) => {
      const user = currentUser(request);
      const { currentPassword, newPassword } = request.body;
      return account.changePassword(
        user.userId,
        user.sessionId,
        currentPassword,
        newPassword,
        requestMeta(request),
      );
    },
  );

  app.delete(
    "/",
    {
      schema: {
        tags,
        security,
        summary: "Delete my account (soft delete; all sessions end)",
        body: DeleteMeBody,
        response: { 204: NoContent, ...problems(401, 403) },
      },
    },
    async (request, reply) => {
      await account.deleteAccount(currentUser(request).userId, request.body.password, requestMeta(request));
      return reply.status(204).send(null);
    },
  );

  app.get(
    "/sessions",
    {
      schema: {
        tags,
        security,
        summary: "My active sessions",
        response: { 200: Type.Object({ items: Type.Array(Session) }), ...problems(401, 403) },
      },
    },
    async (request) => {
      const user = currentUser(request);
      return { items: await account.listSessions(user.userId, user.sessionId) };
    },
  );

  app.delete(
    "/sessions/:id",
    {
      schema: {
        tags,
        security,
        summary: "End one of my sessions",
        params: IdParams,
        response: { 204: NoContent, ...problems(401, 403, 404) },
      },
    },
    async (request, reply) => {
      await account.revokeSession(currentUser(request).userId, request.params.id, requestMeta(request));
      return reply.status(204).send(null);
    },
  );

  app.get(
    "/export",
    {
      schema: {
        tags,
        security,
        summary: "Everything Ludus holds about me, as JSON",
        response: {
          200: Type.Object(
            { exportedAt: Type.String(), user: User },
            { additionalProperties: true, description: "One key per feature holding my data" },
          ),
          ...problems(401, 403),
        },
      },
    },
    async (request) => account.export(currentUser(request).userId, requestMeta(request)),
  );
};
