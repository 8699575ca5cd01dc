import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { Database } from "../platform/db/database.ts";
import { notFound } from "../platform/http/errors.ts";
import { IdParams, problems } from "../platform/http/schemas.ts";
import type { Guards } from "./guards.ts";
import { publicUserView } from "./presenters.ts";
import { PublicUser } from "./schemas.ts";
import { findUserById } from "./users.store.ts";

/** Routes for app backends (API key) about any player. */
export const userRoutes: FastifyPluginAsyncTypebox<{ db: Database; guards: Guards }> = async (
  app,
  { db, guards },
) => {
  app.get(
    "/:id",
    {
      preHandler: guards.scope("users:read"),
      schema: {
        tags: ["users"],
        security: [{ apiKey: [] }, { bearer: [] }],
        summary: "A player's public profile (API key with users:read, or an admin)",
        params: IdParams,
        response: { 200: PublicUser, ...problems(401, 403, 404) },
      },
    },
    async (request) => {
      const user = await db.asSystem((tx) => findUserById(tx, request.params.id));
      if (user === undefined || user.deleted_at !== null) throw notFound("User");
      return publicUserView(user);
    },
  );
};
