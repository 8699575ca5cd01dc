import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import type { Guards } from "../identity/guards.ts";
import type { Database } from "../platform/db/database.ts";
import { decodeCursor, toPage } from "../platform/http/pagination.ts";
import { Page, PageQuery, problems, Timestamp, Uuid } from "../platform/http/schemas.ts";
import { listAudit } from "./audit.store.ts";

const AuditEntry = Type.Object({
  id: Uuid,
  createdAt: Timestamp,
  actorType: Type.Enum(["user", "api_key", "system"]),
  actorId: Type.Union([Uuid, Type.Null()]),
  subjectUserId: Type.Union([Uuid, Type.Null()]),
  action: Type.String(),
  resourceType: Type.String(),
  resourceId: Type.Union([Type.String(), Type.Null()]),
  before: Type.Unknown(),
  after: Type.Unknown(),
  ip: Type.Union([Type.String(), Type.Null()]),
  userAgent: Type.Union([Type.String(), Type.Null()]),
  requestId: Type.Union([Type.String(), Type.Null()]),
});

const AuditQuery = Type.Object(
  {
    actorId: Type.Optional(Uuid),
    subjectUserId: Type.Optional(Uuid),
    action: Type.Optional(Type.String({ maxLength: 100 })),
    resourceType: Type.Optional(Type.String({ maxLength: 50 })),
    resourceId: Type.Optional(Type.String({ maxLength: 255 })),
    ...PageQuery,
  },
  { additionalProperties: false },
);

export const auditRoutes: FastifyPluginAsyncTypebox<{ db: Database; guards: Guards }> = async (
  app,
  { db, guards },
) => {
  app.get(
    "/audit-logs",
    {
      preHandler: guards.role("admin"),
      schema: {
        tags: ["admin"],
        security: [{ bearer: [] }],
        summary: "The audit log, newest first",
        querystring: AuditQuery,
        response: { 200: Page(AuditEntry), ...problems(401, 403) },
      },
    },
    async (request) => {
      const { cursor, limit, ...filter } = request.query;
      const rows = await db.asSystem((tx) =>
        listAudit(tx, { ...filter, before: decodeCursor(cursor), limit }),
      );
      return toPage(
        rows,
        limit,
        (r) => ({ at: r.cursor_at, id: r.id }),
        (r) => ({
          id: r.id,
          createdAt: r.created_at.toISOString(),
          actorType: r.actor_type,
          actorId: r.actor_id,
          subjectUserId: r.subject_user_id,
          action: r.action,
          resourceType: r.resource_type,
          resourceId: r.resource_id,
          before: r.before_data,
          after: r.after_data,
          ip: r.ip,
          userAgent: r.user_agent,
          requestId: r.request_id,
        }),
      );
    },
  );
};
