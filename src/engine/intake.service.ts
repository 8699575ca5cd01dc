import { createHash } from "node:crypto";
import type { Principal } from "../identity/guards.ts";
import type { Clock } from "../platform/clock.ts";
import type { Database, Tx } from "../platform/db/database.ts";
import { AppError, type ErrorCode, type FieldError } from "../platform/http/errors.ts";
import { checkJsonShape } from "../platform/http/json-limits.ts";
import type { ApplyInput, Engine, EventResult } from "./apply.ts";
import type { ClientInfo } from "./plan.ts";
import type { Definitions, Snapshot } from "./definitions.ts";

export type { EventResult } from "./apply.ts";

export interface EventRequest {
  type: string;
  userId?: string;
  occurredAt?: string;
  idempotencyKey?: string;
  data?: Record<string, unknown>;
}

export interface IntakeSettings {
  /** How far back occurredAt may lie. */
  maxAgeMs: number;
  /** How far ahead of our clock occurredAt may lie (clients' clocks drift). */
  futureSkewMs: number;
}

/**
 * Checks events against their declared types and the caller's rights, then applies them: one
 * transaction per event, or one per batch (all or nothing). Repeats of an idempotency key return
 * the first answer and change nothing.
 */
export class EventIntake {
  constructor(
    private readonly db: Database,
    private readonly definitions: Definitions,
    private readonly engine: Engine,
    private readonly clock: Clock,
    private readonly settings: IntakeSettings,
  ) {}

  async submit(caller: Principal, request: EventRequest, client?: ClientInfo): Promise<EventResult> {
    const snapshot = await this.definitions.snapshot();
    const input = this.validate(snapshot, caller, request, "body", client);
    const [result] = await this.db.asUser(input.userId, (tx) => this.engine.run(tx, snapshot, [input]));
    return result!;
  }

  async submitBatch(
    caller: Principal,
    requests: EventRequest[],
    batchKey?: string,
    client?: ClientInfo,
  ): Promise<EventResult[]> {
    const snapshot = await this.definitions.snapshot();
    const inputs: ApplyInput[] = [];
    const errors: FieldError[] = [];
    requests.forEach((request, i) => {
      try {
        const key = request.idempotencyKey ?? (batchKey === undefined ? undefined : `${batchKey}#${i}`);
        inputs.push(
          this.validate(snapshot, caller, { ...request, idempotencyKey: key }, `body/events/${i}`, client),
        );
      } catch (error) {
        // Refusals of the caller itself (its scope, someone else's player) answer for the whole batch as
        // they would alone; problems with what an event says are collected, each under its index.
        if (
          !(error instanceof AppError) ||
          error.code.startsWith("auth.") ||
          error.code === "event.other_user"
        )
          throw error;
        errors.push(
          ...(error.extra.errors ?? [
            { path: `body/events/${i}`, message: `${error.code}: ${error.message}` },
          ]),
        );
      }
    });
    // Nothing is applied unless every event is acceptable.
    if (errors.length > 0) {
      throw new AppError("event.invalid_data", `${errors.length} event(s) in the batch are invalid`, {
        errors,
      });
    }
    const apply = (tx: Tx) => this.engine.run(tx, snapshot, inputs);
    const users = new Set(inputs.map((i) => i.userId));
    const only = users.size === 1 ? [...users][0] : undefined;
    return only !== undefined ? this.db.asUser(only, apply) : this.db.asSystem(apply);
  }

  /** What an event would do, computed by really applying it in a transaction that is rolled back. */
  async dryRun(caller: Principal, request: EventRequest): Promise<EventResult> {
    const snapshot = await this.definitions.snapshot();
    const input = this.validate(snapshot, caller, { ...request, idempotencyKey: undefined }, "body");
    const [result] = await this.db.rolledBack({ kind: "user", userId: input.userId }, (tx) =>
      this.engine.run(tx, snapshot, [input]),
    );
    return result!;
  }

  private validate(
    snapshot: Snapshot,
    caller: Principal,
    request: EventRequest,
    path: string,
    client?: ClientInfo,
  ): ApplyInput {
    const fail = (code: ErrorCode, message: string, field = ""): never => {
      throw new AppError(code, message, { errors: [{ path: `${path}${field}`, message }] });
    };
    const found = snapshot.eventTypes.get(request.type);
    const type =
      found === undefined || !found.active
        ? fail("event.unknown_type", `Unknown event type '${request.type}'`, "/type")
        : found;
    if (type.system)
      fail("event.system_type", `'${request.type}' is emitted by Ludus and cannot be sent`, "/type");

    let userId: string;
    if (caller.kind === "user") {
      userId = request.userId ?? caller.userId;
      if (userId !== caller.userId)
        fail("event.other_user", "Players may send events only for themselves", "/userId");
      if (!type.clientWritable)
        fail("event.not_client_writable", `Players may not send '${request.type}' events`, "/type");
    } else {
      if (!caller.scopes.includes("events:write")) {
        throw new AppError("auth.insufficient_scope", "This route needs the 'events:write' scope");
      }
      userId = request.userId ?? fail("validation.failed", "userId is required with an API key", "/userId");
    }

    const now = this.clock.now().getTime();
    const occurredAt = request.occurredAt === undefined ? new Date(now) : new Date(request.occurredAt);
    if (occurredAt.getTime() > now + this.settings.futureSkewMs) {
      fail("event.occurred_at_out_of_range", "occurredAt is in the future", "/occurredAt");
    }
    if (occurredAt.getTime() < now - this.settings.maxAgeMs) {
      fail(
        "event.occurred_at_out_of_range",
        "occurredAt is older than the back-dating window",
        "/occurredAt",
      );
    }

    const data = request.data ?? {};
    // Bodies are bounded by the HTTP layer; this holds for events that come any other way too,
    // before the schema check and the canonical hash below walk the data.
    const tooBig = checkJsonShape(data, undefined, `${path}/data`);
    if (tooBig !== undefined) {
      throw new AppError("event.invalid_data", tooBig.message, {
        errors: [{ path: tooBig.path, message: tooBig.message }],
      });
    }
    if (!type.validate(data)) {
      throw new AppError("event.invalid_data", `The data does not match the schema of '${request.type}'`, {
        errors: (type.validate.errors ?? []).map((e) => ({
          path: `${path}/data${e.instancePath}`,
          message: e.message ?? "is invalid",
        })),
      });
    }
    const input = {
      type: request.type,
      userId,
      occurredAt,
      data,
      source: caller.kind === "user" ? ("player" as const) : ("api_key" as const),
      sourceId: caller.kind === "user" ? caller.userId : caller.keyId,
      idempotencyKey: request.idempotencyKey ?? null,
      scope: caller.kind === "apiKey" ? `key:${caller.keyId}` : `user:${caller.userId}`,
    };
    // Where a player's own event came from is kept with it (seed 000 activity_logs).
    return {
      ...input,
      requestHash: requestHash(input),
      ...(caller.kind === "user" && client ? { client } : {}),
    };
  }
}

/** What makes two requests "the same event" for idempotency. */
function requestHash(input: Pick<ApplyInput, "type" | "userId" | "data">): Buffer {
  return createHash("sha256")
    .update(JSON.stringify([input.type, input.userId, canonical(input.data)]))
    .digest();
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, canonical((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}
