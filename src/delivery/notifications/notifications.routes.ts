import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import { currentUser, type Guards } from "../../identity/guards.ts";
import {
  IdParams,
  NullableTimestamp,
  Page,
  PageQuery,
  problems,
  Timestamp,
  Uuid,
} from "../../platform/http/schemas.ts";
import type { NotificationService } from "./notifications.service.ts";
import { TYPE_KEYS } from "./types.ts";

const Notification = Type.Object({
  id: Uuid,
  type: Type.String(),
  title: Type.String(),
  message: Type.String(),
  data: Type.Record(Type.String(), Type.Unknown()),
  read: Type.Boolean(),
  readAt: NullableTimestamp,
  createdAt: Timestamp,
  expiresAt: NullableTimestamp,
});
const ListQuery = Type.Object(
  { ...PageQuery, unread: Type.Optional(Type.Boolean({ description: "Only unread ones" })) },
  { additionalProperties: false },
);
const Prefs = {
  inApp: Type.Boolean({ description: "Shown in the notification list (and the stream)" }),
  email: Type.Boolean(),
  push: Type.Boolean(),
};
const Preference = Type.Object({
  type: Type.Enum(TYPE_KEYS),
  ...Prefs,
  custom: Type.Boolean({ description: "false: the defaults apply" }),
});
const Preferences = Type.Object({
  items: Type.Array(Preference),
  channels: Type.Object(
    { inApp: Type.Boolean(), email: Type.Boolean(), push: Type.Boolean() },
    { description: "Channels this server can send through" },
  ),
});
const ChangePrefs = Type.Partial(Type.Object(Prefs), { additionalProperties: false, minProperties: 1 });
const PreferencesBody = Type.Partial(
  Type.Object(
    Object.fromEntries(TYPE_KEYS.map((k) => [k, ChangePrefs])) as Record<string, typeof ChangePrefs>,
  ),
  { additionalProperties: false, minProperties: 1, description: "Channels to change, per notification type" },
);

export const notificationRoutes: FastifyPluginAsyncTypebox<{
  notifications: NotificationService;
  guards: Guards;
}> = async (app, { notifications, guards }) => {
  const security = [{ bearer: [] }];
  const tags = ["notifications"];

  app.get(
    "/v1/me/notifications",
    {
      preHandler: guards.user,
      schema: {
        tags,
        security,
        summary: "My notifications, newest first",
        querystring: ListQuery,
        response: {
          200: Type.Intersect([Page(Notification), Type.Object({ unreadCount: Type.Integer() })]),
          ...problems(401, 403),
        },
      },
    },
    async (request) => notifications.list(currentUser(request).userId, request.query),
  );

  app.post(
    "/v1/me/notifications/:id/read",
    {
      preHandler: guards.user,
      schema: {
        tags,
        security,
        summary: "Mark one of my notifications read",
        params: IdParams,
        response: { 200: Notification, ...problems(401, 403, 404) },
      },
    },
    async (request) => notifications.markRead(currentUser(request).userId, request.params.id),
  );

  app.post(
    "/v1/me/notifications/read-all",
    {
      preHandler: guards.user,
      schema: {
        tags,
        security,
        summary: "Mark all my notifications read",
        response: { 200: Type.Object({ updated: Type.Integer() }), ...problems(401, 403) },
      },
    },
    async (request) => notifications.markAllRead(currentUser(request).userId),
  );

  app.get(
    "/v1/me/notification-preferences",
    {
      preHandler: guards.user,
      schema: {
        tags,
        security,
        summary: "Which channels each notification type reaches me on",
        response: { 200: Preferences, ...problems(401, 403) },
      },
    },
    async (request) => notifications.preferences(currentUser(request).userId),
  );

  app.patch(
    "/v1/me/notification-preferences",
    {
      preHandler: guards.user,
      schema: {
        tags,
        security,
        summary: "Turn channels on or off per notification type",
        body: PreferencesBody,
        response: { 200: Preferences, ...problems(401, 403) },
      },
    },
    async (request) => notifications.setPreferences(currentUser(request).userId, request.body),
  );
};
