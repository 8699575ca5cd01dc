import type { ServerResponse } from "node:http";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import websocket from "@fastify/websocket";
import type { WebSocket } from "ws";
import type { FastifyRequest } from "fastify";
import { Type } from "typebox";
import { currentUser, type Guards } from "../../identity/guards.ts";
import type { AccessTokens } from "../../identity/tokens.ts";
import { AppError } from "../../platform/http/errors.ts";
import { problems, Timestamp } from "../../platform/http/schemas.ts";
import {
  StreamCapacityReached,
  type ResumeFrom,
  type StreamHub,
  type StreamMessage,
  type StreamSink,
} from "./hub.ts";

/** How long a stream ticket opens streams for. */
export const TICKET_TTL_SECONDS = 60;

const eventId = (description: string) =>
  Type.String({ pattern: "^(0|[1-9][0-9]{0,14})$", maxLength: 15, description });
const EventId = eventId("An outbox id the client already has (`0`: replay everything still kept)");
export const StreamQuery = Type.Object(
  {
    lastEventId: Type.Optional(EventId),
    ticket: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 4096,
        description: "A stream ticket (POST /v1/me/stream/ticket), for clients that cannot send headers",
      }),
    ),
  },
  { additionalProperties: false },
);
const StreamHeaders = Type.Object({
  "last-event-id": Type.Optional(eventId("Resume after this id (wins over ?lastEventId)")),
});

/** Where a client resumes: the Last-Event-ID header (an EventSource reconnecting), else ?lastEventId. */
export function resumeFrom(request: FastifyRequest): ResumeFrom {
  const header = request.headers["last-event-id"];
  const query = (request.query as { lastEventId?: string }).lastEventId;
  const given = typeof header === "string" ? header : query;
  return given === undefined ? undefined : Number(given);
}

/** Heartbeats in a row a client may leave its socket undrained before its stream is closed. */
export const MAX_STALLED_HEARTBEATS = 3;

/**
 * An SSE response as a stream sink: `id:`/`event:`/`data:` messages, comment heartbeats. Writes
 * wait for the socket to drain (one waiter, shared); a heartbeat is skipped while it has not, and
 * a client that has not drained for MAX_STALLED_HEARTBEATS heartbeats is dropped.
 */
function sseSink(raw: ServerResponse): StreamSink {
  let drained: Promise<void> | undefined;
  let stalled = 0;
  const waitDrain = () =>
    (drained ??= new Promise<void>((resolve) => {
      const done = () => {
        raw.off("drain", done);
        raw.off("close", done);
        drained = undefined;
        resolve();
      };
      raw.on("drain", done);
      raw.on("close", done);
    }));
  const write = async (text: string) => {
    if (raw.destroyed || raw.writableEnded) return;
    if (!raw.write(text)) await waitDrain();
  };
  return {
    send: (m: StreamMessage) => write(`id: ${m.id}\nevent: ${m.event}\ndata: ${JSON.stringify(m.data)}\n\n`),
    resync: (reason: string) => write(`event: resync\ndata: ${JSON.stringify({ reason })}\n\n`),
    heartbeat: () => {
      if (raw.destroyed || raw.writableEnded) return;
      if (raw.writableNeedDrain) {
        // The client reads nothing: no more buffering for it; closing ends its stream.
        if (++stalled >= MAX_STALLED_HEARTBEATS) raw.destroy();
        return;
      }
      stalled = 0;
      raw.write(`: heartbeat\n\n`);
    },
    end: () => {
      if (!raw.writableEnded) raw.end();
    },
  };
}

/** A WebSocket as a stream sink: one JSON text frame per message, protocol pings as heartbeats. */
function wsSink(socket: WebSocket): StreamSink {
  let alive = true;
  socket.on("pong", () => (alive = true));
  const sendJson = (value: unknown) =>
    new Promise<void>((resolve) => {
      if (socket.readyState !== socket.OPEN) return resolve();
      // Resolves once written (or failed: the close handler ends the stream).
      socket.send(JSON.stringify(value), () => resolve());
    });
  return {
    send: (m: StreamMessage) => sendJson({ id: m.id, event: m.event, data: m.data }),
    resync: (reason: string) => sendJson({ event: "resync", data: { reason } }),
    heartbeat: () => {
      if (socket.readyState !== socket.OPEN) return;
      // No pong since the last ping: the peer is gone without a close frame.
      if (!alive) return socket.terminate();
      alive = false;
      socket.ping();
    },
    end: () => socket.close(1001, "server shutting down"),
  };
}

export const streamRoutes: FastifyPluginAsyncTypebox<{
  hub: StreamHub;
  guards: Guards;
  tokens: AccessTokens;
}> = async (app, { hub, guards, tokens }) => {
  const tags = ["stream"];
  const security = [{ bearer: [] }];

  // Open streams end when the server closes (else close would wait for them forever).
  app.addHook("preClose", async () => hub.endAll());

  // Past the instance's cap a stream is refused before it opens (before the SSE headers or the
  // WebSocket upgrade), so clients retry elsewhere or later; the per-player cap closes the oldest.
  const refuseWhenFull = async () => {
    if (hub.full) {
      throw new AppError("stream.capacity", "This instance holds as many streams as it may; try again later");
    }
  };
  // Clients send nothing that matters; a large frame is refused.
  await app.register(websocket, { options: { maxPayload: 4096 } });

  app.post(
    "/v1/me/stream/ticket",
    {
      preHandler: guards.user,
      schema: {
        tags,
        security,
        summary: "A short-lived ticket that opens my stream from a URL (EventSource, WebSocket)",
        response: {
          200: Type.Object({
            ticket: Type.String(),
            expiresAt: Timestamp,
            expiresIn: Type.Integer({ description: "Seconds" }),
          }),
          ...problems(401, 403),
        },
      },
    },
    async (request) => {
      const user = currentUser(request);
      const ticket = await tokens.signStreamTicket(
        { userId: user.userId, sessionId: user.sessionId },
        TICKET_TTL_SECONDS,
      );
      return {
        ticket,
        expiresAt: new Date(Date.now() + TICKET_TTL_SECONDS * 1000).toISOString(),
        expiresIn: TICKET_TTL_SECONDS,
      };
    },
  );

  app.get(
    "/v1/me/stream",
    {
      preHandler: [guards.streamUser, refuseWhenFull],
      schema: {
        tags,
        security,
        summary: "My realtime stream (Server-Sent Events)",
        description:
          "One message per committed event of mine, after delivery: `id:` the outbox id, `event:` the " +
          "event type, `data:` the event and its effects as JSON. Resume with the `Last-Event-ID` header " +
          "(EventSource sends it when it reconnects) or `?lastEventId=`; without either the stream starts " +
          "with the next message. An `event: resync` means the resume point is no longer kept (24 h): " +
          "reload state, then follow the stream. Comment lines every 15 s keep it open.",
        querystring: StreamQuery,
        headers: StreamHeaders,
        response: {
          200: {
            description: "text/event-stream",
            content: { "text/event-stream": { schema: Type.String() } },
          },
          ...problems(401, 403, 503),
        },
      },
    },
    async (request, reply) => {
      const user = currentUser(request);
      const from = resumeFrom(request);
      reply.hijack();
      const raw = reply.raw;
      // Headers set by hooks so far (helmet, CORS) go out too: a hijacked reply skips onSend.
      const hooked = Object.entries(reply.getHeaders()).filter(
        (e): e is [string, string | number | string[]] => e[1] !== undefined,
      );
      raw.writeHead(200, {
        ...Object.fromEntries(hooked),
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-cache, no-transform",
        "x-accel-buffering": "no",
        "x-request-id": String(request.id),
        // A stream's connection is not reused: it closes with the stream (and so never holds up
        // the server's shutdown as a busy keep-alive connection).
        connection: "close",
      });
      raw.write(`retry: 2000\n: connected\n\n`);
      const sink = sseSink(raw);
      let stream: { close(): void } | undefined;
      let gone = false;
      request.raw.socket.setTimeout(0);
      raw.on("close", () => {
        gone = true;
        stream?.close();
        request.raw.socket.destroy();
      });
      try {
        stream = await hub.open(user.userId, from, sink, user.sessionId);
        if (gone) stream.close();
      } catch (err) {
        if (err instanceof StreamCapacityReached) request.log.warn("stream refused: instance full");
        else request.log.error({ err }, "opening the stream failed");
        sink.end();
      }
    },
  );

  app.route({
    method: "GET",
    url: "/v1/me/ws",
    preHandler: [guards.streamUser, refuseWhenFull],
    schema: {
      tags,
      security,
      summary: "My realtime stream over a WebSocket",
      description:
        "The messages of GET /v1/me/stream as JSON text frames `{id, event, data}` (a resync is " +
        "`{event: 'resync', data: {reason}}`), with the same resume (`?lastEventId=`). Authenticate " +
        "with `Authorization: Bearer` or, from a browser, `?ticket=` (POST /v1/me/stream/ticket). " +
        "Protocol pings every 15 s; a client that stops answering them is dropped. A plain GET without " +
        "an upgrade gets 426.",
      querystring: StreamQuery,
      headers: StreamHeaders,
      response: {
        101: { description: "Switching to the WebSocket protocol" },
        ...problems(401, 403, 426),
      },
    },
    handler: async () => {
      throw new AppError("stream.upgrade_required", "Open this route as a WebSocket (Upgrade: websocket)");
    },
    wsHandler: async (socket, request) => {
      const user = currentUser(request);
      const sink = wsSink(socket);
      let stream: { close(): void } | undefined;
      let gone = false;
      socket.on("close", () => {
        gone = true;
        stream?.close();
      });
      try {
        stream = await hub.open(user.userId, resumeFrom(request), sink, user.sessionId);
        if (gone) stream.close();
      } catch (err) {
        const full = err instanceof StreamCapacityReached;
        if (full) request.log.warn("stream refused: instance full");
        else request.log.error({ err }, "opening the stream failed");
        socket.close(full ? 1013 : 1011, "stream unavailable");
      }
    },
  });
};
