import { createHash } from "node:crypto";
import type { Principal } from "../identity/guards.ts";
import type { Clock } from "../platform/clock.ts";
import { actAs, type Database, type Tx } from "../platform/db/database.ts";
import { AppError, type ErrorCode, type FieldError } from "../platform/http/errors.ts";
import { dailyValue } from "../progression/stats.store.ts";
import { dayKey } from "../platform/time/periods.ts";
import { lockPlayers } from "../progression/progress.store.ts";
import type { ApplyInput, Engine } from "./apply.ts";
import type { Definitions, Snapshot } from "./definitions.ts";
import type { Effects } from "./effects.ts";

export interface EventRequest {
  type: string;
  userId?: string;
  occurredAt?: string;
  idempotencyKey?: string;
  data?: Record<string, unknown>;
}

export interface EventResult {
  eventId: string;
  duplicate: boolean;
  type: string;
  userId: string;
  occurredAt: string;
  effects: Effects;
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

  async submit(caller: Principal, request: EventRequest): Promise<EventResult> {
    const snapshot = await this.definitions.snapshot();
    const input = this.validate(snapshot, caller, request, "body");
    return this.db.asUser(input.userId, (tx) => this.applyOnce(tx, snapshot, caller, input));
  }

  async submitBatch(caller: Principal, requests: EventRequest[], batchKey?: string): Promise<EventResult[]> {
    const snapshot = await this.definitions.snapshot();
    const inputs: ApplyInput[] = [];
    const errors: FieldError[] = [];
    requests.forEach((request, i) => {
      try {
        const key = request.idempotencyKey ?? (batchKey === undefined ? undefined : `${batchKey}#${i}`);
        inputs.push(this.validate(snapshot, caller, { ...request, idempotencyKey: key }, `body/events/${i}`));
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
    const apply = async (tx: Tx) => {
      // Lock every player of the batch up front, in id order, so concurrent batches cannot deadlock.
      await lockPlayers(
        tx,
        inputs.map((i) => i.userId),
      );
      const results: EventResult[] = [];
      let acting: string | undefined;
      for (const input of inputs) {
        if (input.userId !== acting) {
          await actAs(tx, input.userId);
          acting = input.userId;
        }
        results.push(await this.applyOnce(tx, snapshot, caller, input));
      }
      return results;
    };
    const users = new Set(inputs.map((i) => i.userId));
    const only = users.size === 1 ? [...users][0] : undefined;
    return only !== undefined ? this.db.asUser(only, apply) : this.db.asSystem(apply);
  }

  /** What an event would do, computed by really applying it in a transaction that is rolled back. */
  async dryRun(caller: Principal, request: EventRequest): Promise<EventResult> {
    const snapshot = await this.definitions.snapshot();
    const input = this.validate(snapshot, caller, { ...request, idempotencyKey: undefined }, "body");
    return this.db.rolledBack({ kind: "user", userId: input.userId }, (tx) =>
      this.applyOnce(tx, snapshot, caller, input),
    );
  }

  private async applyOnce(
    tx: Tx,
    snapshot: Snapshot,
    caller: Principal,
    input: ApplyInput,
  ): Promise<EventResult> {
    const key = input.idempotencyKey;
    const scope = caller.kind === "apiKey" ? `key:${caller.keyId}` : `user:${caller.userId}`;
    const hash = requestHash(input);
    // The player first: it makes unknown players a clean 404 and serialises this player's events.
    const player = await this.engine.lock(tx, input.userId);
    if (key !== null) {
      // The player's lock (taken above) serialises every request for this player, so a concurrent
      // repeat waits there and then finds the first request's committed answer here.
      const first = await tx.maybeOne<{ request_hash: Buffer; response: EventResult }>(
        `SELECT request_hash, response FROM idempotency_keys WHERE scope = $1 AND user_id = $2 AND key = $3`,
        [scope, input.userId, key],
      );
      if (first !== undefined) {
        if (!first.request_hash.equals(hash)) {
          throw new AppError("idempotency.key_reused", "This idempotency key was used for a different event");
        }
        return { ...first.response, duplicate: true };
      }
    }
    await this.checkClientCap(tx, snapshot, input, player.time_zone);
    const applied = await this.engine.apply(tx, snapshot, input, player);
    const result: EventResult = {
      eventId: applied.eventId,
      duplicate: false,
      type: input.type,
      userId: input.userId,
      occurredAt: input.occurredAt.toISOString(),
      effects: applied.effects,
    };
    if (key !== null) {
      await tx.exec(
        `INSERT INTO idempotency_keys (scope, user_id, key, request_hash, response) VALUES ($1, $2, $3, $4, $5)`,
        [scope, input.userId, key, hash, result],
      );
    }
    return result;
  }

  private async checkClientCap(
    tx: Tx,
    snapshot: Snapshot,
    input: ApplyInput,
    timeZone: string,
  ): Promise<void> {
    const cap = snapshot.eventTypes.get(input.type)?.clientDailyCap;
    if (input.source !== "player" || cap === null || cap === undefined) return;
    const day = dayKey(input.occurredAt, { timeZone });
    const sent = await dailyValue(tx, input.userId, `client_events.${input.type}`, day);
    if ((sent?.value ?? 0) >= cap) {
      throw new AppError(
        "event.client_cap_reached",
        `At most ${cap} '${input.type}' events a day may be sent by players`,
      );
    }
  }

  private validate(snapshot: Snapshot, caller: Principal, request: EventRequest, path: string): ApplyInput {
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
    if (!type.validate(data)) {
      throw new AppError("event.invalid_data", `The data does not match the schema of '${request.type}'`, {
        errors: (type.validate.errors ?? []).map((e) => ({
          path: `${path}/data${e.instancePath}`,
          message: e.message ?? "is invalid",
        })),
      });
    }
    return {
      type: request.type,
      userId,
      occurredAt,
      data,
      source: caller.kind === "user" ? "player" : "api_key",
      sourceId: caller.kind === "user" ? caller.userId : caller.keyId,
      idempotencyKey: request.idempotencyKey ?? null,
    };
  }
}

/** What makes two requests "the same event" for idempotency. */
function requestHash(input: ApplyInput): Buffer {
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
