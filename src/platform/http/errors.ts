import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { isConnectionError } from "../db/availability.ts";

/**
 * Every error code a client can see. Codes are part of the API: add new ones, never rename.
 * The HTTP status of each is fixed here so that a code always means the same status.
 */
export const ERROR_STATUS = {
  "request.invalid": 400,
  "request.malformed_json": 400,
  "request.body_too_large": 413,
  "request.unsupported_media_type": 415,
  "request.json_too_deep": 400,
  "request.json_too_large": 413,
  "validation.failed": 400,
  "route.not_found": 404,
  "resource.not_found": 404,
  "auth.unauthenticated": 401,
  "auth.invalid_token": 401,
  "auth.invalid_credentials": 401,
  "auth.refresh_token_invalid": 401,
  "auth.refresh_token_reused": 401,
  "auth.session_revoked": 401,
  "auth.account_inactive": 403,
  "auth.forbidden": 403,
  "auth.insufficient_scope": 403,
  "auth.too_many_attempts": 429,
  "auth.password_rejected": 422,
  "auth.wrong_password": 403,
  "user.email_taken": 409,
  "user.username_taken": 409,
  "user.cannot_change_own_role": 409,
  "user.last_admin": 409,
  "event.unknown_type": 422,
  "event.invalid_data": 422,
  "event.not_client_writable": 403,
  "event.system_type": 403,
  "event.other_user": 403,
  "event.occurred_at_out_of_range": 422,
  "event.client_cap_reached": 429,
  "event.amount_out_of_range": 422,
  "event.unknown_user": 404,
  "event.user_inactive": 409,
  "idempotency.key_reused": 422,
  "definition.invalid": 422,
  "definition.exists": 409,
  "definition.in_use": 409,
  "economy.insufficient_funds": 409,
  "economy.unknown_currency": 422,
  "economy.balance_cap": 409,
  "limits.ceiling_reached": 409,
  "shop.item_inactive": 409,
  "shop.item_unavailable": 409,
  "shop.out_of_stock": 409,
  "shop.limit_reached": 409,
  "shop.refund_not_possible": 409,
  "inventory.not_held": 409,
  "inventory.not_usable": 409,
  "gift.unavailable": 409,
  "quest.not_found": 404,
  "leaderboard.not_submittable": 422,
  "leaderboard.period_closed": 409,
  "quest.not_rerollable": 409,
  "quest.reroll_limit": 409,
  "webhook.delivery_in_progress": 409,
  "webhook.url_forbidden": 422,
  "stream.upgrade_required": 426,
  "stream.capacity": 503,
  rate_limited: 429,
  internal: 500,
  "service.unavailable": 503,
  "db.unavailable": 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export interface FieldError {
  path: string;
  message: string;
}

/** A failure the client caused or may act on; becomes an application/problem+json answer. */
export class AppError extends Error {
  override name = "AppError";
  readonly status: number;

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly extra: { errors?: FieldError[]; retryAfterSeconds?: number } = {},
  ) {
    super(message);
    this.status = ERROR_STATUS[code];
  }
}

export const notFound = (what: string): AppError => new AppError("resource.not_found", `${what} not found`);

const TITLES: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  409: "Conflict",
  413: "Content Too Large",
  415: "Unsupported Media Type",
  422: "Unprocessable Content",
  426: "Upgrade Required",
  429: "Too Many Requests",
  500: "Internal Server Error",
  503: "Service Unavailable",
};

export interface Problem {
  type: string;
  title: string;
  status: number;
  code: string;
  detail: string;
  instance: string;
  requestId: string;
  errors?: FieldError[];
}

export function sendProblem(reply: FastifyReply, request: FastifyRequest, error: AppError): FastifyReply {
  const body: Problem = {
    type: `https://ludus.dev/problems/${error.code}`,
    title: TITLES[error.status] ?? "Error",
    status: error.status,
    code: error.code,
    detail: error.message,
    instance: request.url.split("?")[0] ?? request.url,
    requestId: String(request.id),
    ...(error.extra.errors ? { errors: error.extra.errors } : {}),
  };
  if (error.extra.retryAfterSeconds !== undefined) {
    void reply.header("retry-after", String(Math.max(1, Math.ceil(error.extra.retryAfterSeconds))));
  }
  // The body is written here (not through the route's response schema) so every error has one shape.
  return reply.status(error.status).type("application/problem+json").serializer(JSON.stringify).send(body);
}

/** How long a client is told to wait (Retry-After) when the database is unavailable. */
const DB_RETRY_AFTER_SECONDS = 2;

/** Maps Fastify's own errors (validation, parsing, limits) onto our codes. */
function fromFastifyError(error: FastifyError): AppError {
  // The database connection was lost or could not be made: the transaction wrote nothing (or, cut
  // off after COMMIT, is settled by the client retrying with its idempotency key).
  if (isConnectionError(error)) {
    return new AppError("db.unavailable", "The database is unavailable; try again shortly", {
      retryAfterSeconds: DB_RETRY_AFTER_SECONDS,
    });
  }
  if (error.validation) {
    const errors = error.validation.map((v) => ({
      path: `${error.validationContext ?? "body"}${v.instancePath}`,
      message:
        v.keyword === "additionalProperties"
          ? `unknown field '${String((v.params as { additionalProperty?: unknown }).additionalProperty)}'`
          : (v.message ?? "is invalid"),
    }));
    return new AppError("validation.failed", "The request does not match its schema", { errors });
  }
  switch (error.code) {
    case "FST_ERR_CTP_INVALID_JSON_BODY":
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return new AppError("request.malformed_json", "The body is not valid JSON");
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return new AppError("request.body_too_large", "The body is too large");
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
    case "FST_ERR_CTP_INVALID_CONTENT_LENGTH":
      return new AppError("request.unsupported_media_type", "Send the body as application/json");
    default:
      break;
  }
  // PostgreSQL "data exception" (class 22): a value that passed the schema but not the database,
  // such as 31 February in a cursor. The client's input, so a 400 rather than a 500.
  if (typeof error.code === "string" && /^22[0-9A-Z]{3}$/.test(error.code)) {
    return new AppError("request.invalid", "A value in the request is out of range");
  }
  // A CHECK constraint keeping a balance, counter or score within its ceiling (src/platform/limits.ts):
  // the write that would cross it is refused, and its transaction has rolled back.
  const { constraint } = error as { constraint?: unknown };
  if (error.code === "23514" && typeof constraint === "string" && constraint.endsWith("_ceiling")) {
    return new AppError("limits.ceiling_reached", "The change would take a value past its ceiling");
  }
  if (error instanceof SyntaxError)
    return new AppError("request.malformed_json", "The body is not valid JSON");
  if (error.statusCode === 429) return new AppError("rate_limited", "Too many requests; slow down");
  if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
    return new AppError("request.invalid", error.message);
  }
  return new AppError("internal", "Something went wrong on our side");
}

/**
 * Errors Fastify answers before routing (an undecodable URL, an over-long path parameter); passed
 * as the `frameworkErrors` option so they become problem+json like everything else.
 */
export function frameworkErrors(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const detail =
    error.code === "FST_ERR_MAX_PARAM_LENGTH" ? "A path parameter is too long" : "The URL is malformed";
  void sendProblem(reply, request, new AppError("request.invalid", detail));
}

export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError | AppError, request, reply) => {
    const appError = error instanceof AppError ? error : fromFastifyError(error);
    if (appError.code === "db.unavailable" || appError.code === "service.unavailable") {
      // The outage itself is logged once by the database layer, not once per request (nor per
      // readiness probe).
      request.log.debug({ err: error }, "request failed: database unavailable");
    } else if (appError.status >= 500) {
      request.log.error({ err: error }, "request failed");
    } else if (!(error instanceof AppError)) {
      request.log.info({ code: appError.code, reason: error.message }, "request rejected");
    }
    return sendProblem(reply, request, appError);
  });

  app.setNotFoundHandler((request, reply) =>
    sendProblem(
      reply,
      request,
      new AppError("route.not_found", `No route ${request.method} ${request.url.split("?")[0]}`),
    ),
  );
}
