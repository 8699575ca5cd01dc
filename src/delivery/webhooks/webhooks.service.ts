import http from "node:http";
import https from "node:https";
import { performance } from "node:perf_hooks";
import type { Logger } from "pino";
import { audit, SYSTEM_META, type AuditActor, type RequestMeta } from "../../audit/audit.service.ts";
import type { Clock } from "../../platform/clock.ts";
import type { Database, Tx } from "../../platform/db/database.ts";
import { AppError, notFound } from "../../platform/http/errors.ts";
import { decodeCursor, toPage } from "../../platform/http/pagination.ts";
import { backoffMs, errorText } from "../backoff.ts";
import type { OutboxHandler } from "../dispatcher.ts";
import type { OutboxMessage } from "../messages.ts";
import { EgressPolicy, ForbiddenAddressError, hostOf, type Resolver } from "./egress.ts";
import { matches } from "./filters.ts";
import { newSecret, sign, SIGNATURE_HEADER, TIMESTAMP_HEADER } from "./signing.ts";
import * as store from "./webhooks.store.ts";

export interface WebhookSettings {
  /** Tries of one delivery before it is dead. */
  maxAttempts: number;
  retryBaseMs: number;
  retryMaxMs: number;
  /** Failed tries in a row (over all deliveries) that disable an endpoint. */
  disableAfter: number;
  timeoutMs: number;
  /** Deliveries sent per tick. */
  batchSize: number;
  /**
   * Address ranges webhooks may reach although they are internal (loopback, private, link-local…):
   * CIDR ranges or single addresses, from `LUDUS_WEBHOOK_ALLOW_PRIVATE`. Empty: none.
   */
  allowPrivate: readonly string[];
  /** How host names are resolved (tests give their own DNS); the system's resolver if unset. */
  resolve?: Resolver;
}

export const WEBHOOK_DEFAULTS: WebhookSettings = {
  maxAttempts: 12,
  retryBaseMs: 10_000,
  retryMaxMs: 3_600_000,
  disableAfter: 50,
  timeoutMs: 10_000,
  batchSize: 20,
  allowPrivate: [],
};

export interface Endpoint {
  id: string;
  url: string;
  description: string;
  eventTypes: string[];
  enabled: boolean;
  consecutiveFailures: number;
  disabledAt: string | null;
  disabledReason: string | null;
  createdAt: string;
  updatedAt: string;
}

/** A URL without its userinfo (`user:password@`): credentials are sent, never shown or audited. */
export const withoutUserinfo = (url: string) => url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#@]*@/i, "$1");

const view = (r: store.EndpointRow): Endpoint => ({
  id: r.id,
  url: withoutUserinfo(r.url),
  description: r.description,
  eventTypes: r.event_types,
  enabled: r.enabled,
  consecutiveFailures: r.consecutive_failures,
  disabledAt: r.disabled_at?.toISOString() ?? null,
  disabledReason: r.disabled_reason,
  createdAt: r.created_at.toISOString(),
  updatedAt: r.updated_at.toISOString(),
});

/** The JSON body of a webhook request: the event, its player and its effects. */
export function webhookBody(m: OutboxMessage) {
  return {
    eventId: m.eventId,
    type: m.type,
    userId: m.userId,
    occurredAt: m.occurredAt,
    parentId: m.parentId,
    data: m.data,
    effects: m.effects,
  };
}

/**
 * Webhooks for app backends: endpoints (admin CRUD, audited), deliveries queued by the dispatcher
 * in the event's dispatch transaction, and the sender that POSTs them signed, retried with
 * exponential backoff, each try logged, endpoints that keep failing disabled.
 */
export class WebhookService implements OutboxHandler {
  readonly name = "webhooks";
  /** Where deliveries may connect: checked when a URL is registered and on every connection. */
  private readonly egress: EgressPolicy;

  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly settings: WebhookSettings = WEBHOOK_DEFAULTS,
  ) {
    this.egress = new EgressPolicy(settings.allowPrivate, settings.resolve);
  }

  /** Refuses a URL whose host is, or now resolves to, an address webhooks may not reach. */
  private async checkUrl(url: string): Promise<void> {
    const problem = await this.egress.urlProblem(url);
    if (problem === undefined) return;
    const message = `The URL's host is a ${problem}, which webhooks may not reach (the operator can allow such ranges with LUDUS_WEBHOOK_ALLOW_PRIVATE)`;
    throw new AppError("webhook.url_forbidden", message, { errors: [{ path: "body/url", message }] });
  }

  // --- endpoints -------------------------------------------------------------------------------

  async list(): Promise<Endpoint[]> {
    return (await this.db.asSystem((tx) => store.listEndpoints(tx))).map(view);
  }

  async get(id: string): Promise<Endpoint> {
    const row = await this.db.asSystem((tx) => store.findEndpoint(tx, id));
    if (row === undefined) throw notFound("Webhook endpoint");
    return view(row);
  }

  /** Creates an endpoint; the answer holds its secret, which is never shown again. */
  async create(
    actor: AuditActor,
    meta: RequestMeta,
    input: { url: string; description?: string; eventTypes: string[]; enabled?: boolean },
  ): Promise<Endpoint & { secret: string }> {
    await this.checkUrl(input.url);
    const secret = newSecret();
    const row = await this.db.asSystem(async (tx) => {
      const created = await store.insertEndpoint(tx, {
        url: input.url,
        description: input.description ?? "",
        eventTypes: input.eventTypes,
        secret,
        enabled: input.enabled ?? true,
        now: this.clock.now(),
      });
      await audit(tx, actor, meta, {
        action: "webhook.create",
        resourceType: "webhook_endpoint",
        resourceId: created.id,
        after: view(created),
        subjectUserId: null,
      });
      return created;
    });
    return { ...view(row), secret };
  }

  async update(
    actor: AuditActor,
    meta: RequestMeta,
    id: string,
    change: { url?: string; description?: string; eventTypes?: string[]; enabled?: boolean },
  ): Promise<Endpoint> {
    if (change.url !== undefined) await this.checkUrl(change.url);
    const row = await this.db.asSystem(async (tx) => {
      const before = await store.findEndpoint(tx, id, true);
      if (before === undefined) throw notFound("Webhook endpoint");
      const after = (await store.updateEndpoint(tx, id, { ...change, now: this.clock.now() }))!;
      await audit(tx, actor, meta, {
        action: "webhook.update",
        resourceType: "webhook_endpoint",
        resourceId: id,
        before: view(before),
        after: view(after),
        subjectUserId: null,
      });
      return after;
    });
    return view(row);
  }

  async rotateSecret(actor: AuditActor, meta: RequestMeta, id: string): Promise<{ secret: string }> {
    const secret = newSecret();
    await this.db.asSystem(async (tx) => {
      if (!(await store.setSecret(tx, id, secret, this.clock.now()))) throw notFound("Webhook endpoint");
      await audit(tx, actor, meta, {
        action: "webhook.rotate_secret",
        resourceType: "webhook_endpoint",
        resourceId: id,
        subjectUserId: null,
      });
    });
    return { secret };
  }

  async remove(actor: AuditActor, meta: RequestMeta, id: string): Promise<void> {
    await this.db.asSystem(async (tx) => {
      const gone = await store.deleteEndpoint(tx, id);
      if (gone === undefined) throw notFound("Webhook endpoint");
      await audit(tx, actor, meta, {
        action: "webhook.delete",
        resourceType: "webhook_endpoint",
        resourceId: id,
        before: view(gone),
        subjectUserId: null,
      });
    });
  }

  async deliveries(id: string, q: { status?: string; limit: number; cursor?: string }) {
    const before = decodeCursor(q.cursor);
    return this.db.asSystem(async (tx) => {
      // The page first: a cursor PostgreSQL refuses (31 February) is the caller's 400 either way.
      const rows = await store.listDeliveries(tx, id, { status: q.status, before, limit: q.limit + 1 });
      if (rows.length === 0 && (await store.findEndpoint(tx, id)) === undefined) {
        throw notFound("Webhook endpoint");
      }
      return toPage(
        rows,
        q.limit,
        (r) => ({ at: r.cursor_at, id: r.id }),
        (r) => ({
          id: r.id,
          eventId: r.event_id,
          eventType: r.event_type,
          userId: r.user_id,
          status: r.status,
          attempts: r.attempts,
          nextAttemptAt: r.status === "pending" ? r.next_attempt_at.toISOString() : null,
          lastStatusCode: r.last_status_code,
          lastError: r.last_error,
          deliveredAt: r.delivered_at?.toISOString() ?? null,
          createdAt: r.created_at.toISOString(),
          tries: r.tries.map((t) => ({ ...t, attemptedAt: new Date(t.attemptedAt).toISOString() })),
        }),
      );
    });
  }

  /** Queues a delivery again, now: after a fix on the receiver's side, or to resend a delivered one. */
  async replay(actor: AuditActor, meta: RequestMeta, endpointId: string, deliveryId: string): Promise<void> {
    await this.db.asSystem(async (tx) => {
      const before = await store.replayDelivery(tx, endpointId, deliveryId, this.clock.now());
      if (before === undefined) throw notFound("Webhook delivery");
      if (before.status === "sending") {
        throw new AppError("webhook.delivery_in_progress", "The delivery is being sent right now");
      }
      await audit(tx, actor, meta, {
        action: "webhook.replay",
        resourceType: "webhook_delivery",
        resourceId: deliveryId,
        before: { status: before.status },
        subjectUserId: null,
      });
    });
  }

  // --- the dispatcher's side: queue deliveries --------------------------------------------------

  async handle(tx: Tx, message: OutboxMessage, now: Date): Promise<void> {
    const endpoints = await store.enabledEndpoints(tx);
    const ids = endpoints.filter((e) => matches(e.event_types, message.type)).map((e) => e.id);
    if (ids.length === 0) return;
    await store.insertDeliveries(tx, ids, {
      outboxId: message.id,
      userId: message.userId,
      eventId: message.eventId,
      eventType: message.type,
      payload: webhookBody(message),
      now,
    });
  }

  // --- the sender --------------------------------------------------------------------------------

  /** Sends the deliveries that are due. Returns how many were tried and whether more wait. */
  async runOnce(): Promise<{ sent: number; failed: number; more: boolean }> {
    const now = this.clock.now();
    const lease = new Date(now.getTime() + this.settings.timeoutMs + 30_000);
    const claimed = await this.db.asSystem((tx) =>
      store.claimDeliveries(tx, now, lease, this.settings.batchSize),
    );
    const outcomes = await Promise.all(claimed.map((d) => this.send(d)));
    return {
      sent: outcomes.filter((ok) => ok).length,
      failed: outcomes.filter((ok) => !ok).length,
      more: claimed.length >= this.settings.batchSize,
    };
  }

  private async send(d: store.ClaimedDelivery): Promise<boolean> {
    const at = this.clock.now();
    const timestamp = Math.floor(at.getTime() / 1000);
    const body = JSON.stringify({ deliveryId: d.id, ...(d.payload as object) });
    const started = performance.now();
    let statusCode: number | null = null;
    let error: string | null = null;
    let refused = false;
    try {
      statusCode = await this.post(d.url, body, {
        "content-type": "application/json",
        "user-agent": "Ludus-Webhooks/1",
        [SIGNATURE_HEADER]: sign(d.secret, timestamp, body),
        [TIMESTAMP_HEADER]: String(timestamp),
        "ludus-event-id": d.event_id,
        "ludus-event-type": d.event_type,
        "ludus-delivery-id": d.id,
      });
      if (statusCode < 200 || statusCode >= 300) error = `HTTP ${statusCode}`;
    } catch (err) {
      if (err instanceof ForbiddenAddressError) {
        // Nothing was sent: the log says so and nothing more (no timing to learn from).
        refused = true;
        error = "forbidden address";
      } else if ((err as { name?: unknown }).name === "AbortError") {
        error = "timeout";
      } else {
        // Only the code: the URL may carry credentials and the headers the signature.
        const code = (err as { code?: unknown }).code;
        error = typeof code === "string" ? code : errorText(err, 200).replace(d.url, "<url>");
      }
    }
    const durationMs = refused ? 0 : Math.round(performance.now() - started);
    const ok = error === null;
    await this.finish(d, { at, ok, statusCode, error, durationMs });
    return ok;
  }

  /**
   * POSTs a delivery and answers the response status. The connection goes only to an address the
   * egress policy checked: literal addresses here, names through its `lookup` (resolved once, every
   * address checked, then connected to). No redirects are followed; the response body is not read.
   */
  private post(url: string, body: string, headers: Record<string, string>): Promise<number> {
    const host = hostOf(url);
    const problem = host === undefined ? "not a URL" : this.egress.hostProblem(host);
    if (problem !== undefined) return Promise.reject(new ForbiddenAddressError(`refused: ${problem}`));
    const client = url.startsWith("https:") ? https : http;
    return new Promise((resolve, reject) => {
      const request = client.request(
        url,
        {
          method: "POST",
          headers: { ...headers, "content-length": String(Buffer.byteLength(body)) },
          lookup: this.egress.lookup,
          // A connection of its own: a pooled one would skip the lookup, and so the check.
          agent: false,
          signal: AbortSignal.timeout(this.settings.timeoutMs),
        },
        (response) => {
          resolve(response.statusCode ?? 0);
          response.destroy();
        },
      );
      request.on("error", reject);
      request.end(body);
    });
  }

  private async finish(
    d: store.ClaimedDelivery,
    r: { at: Date; ok: boolean; statusCode: number | null; error: string | null; durationMs: number },
  ): Promise<void> {
    const now = this.clock.now();
    const dead = !r.ok && d.attempts >= this.settings.maxAttempts;
    const retryAt =
      r.ok || dead
        ? null
        : new Date(
            now.getTime() + backoffMs(d.attempts, this.settings.retryBaseMs, this.settings.retryMaxMs),
          );
    await this.db.asSystem(async (tx) => {
      await store.recordAttempt(tx, {
        deliveryId: d.id,
        attempt: d.attempts,
        at: r.at,
        statusCode: r.statusCode,
        durationMs: r.durationMs,
        ok: r.ok,
        error: r.error,
      });
      const mine = await store.finishDelivery(tx, d.id, d.attempts, {
        ok: r.ok,
        statusCode: r.statusCode,
        error: r.error,
        now,
        retryAt,
      });
      if (!mine) return; // the lease ran out and another sender took it over
      const { failures, enabled } = await store.countOutcome(tx, d.endpoint_id, r.ok);
      if (!r.ok && enabled && failures >= this.settings.disableAfter) {
        const reason = `disabled after ${failures} failed deliveries in a row (last: ${r.error ?? "?"})`;
        await store.disableEndpoint(tx, d.endpoint_id, reason.slice(0, 500), now);
        await audit(tx, { type: "system" }, SYSTEM_META, {
          action: "webhook.disabled",
          resourceType: "webhook_endpoint",
          resourceId: d.endpoint_id,
          after: { enabled: false, reason },
          subjectUserId: null,
        });
        this.logger.warn(
          { endpointId: d.endpoint_id, failures },
          "webhook endpoint disabled: it keeps failing",
        );
      }
    });
    if (!r.ok) {
      this.logger.info(
        { deliveryId: d.id, endpointId: d.endpoint_id, attempt: d.attempts, error: r.error, dead },
        "webhook delivery failed",
      );
    }
  }
}
