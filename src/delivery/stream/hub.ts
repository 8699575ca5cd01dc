import type { Logger } from "pino";
import { systemClock, type Clock } from "../../platform/clock.ts";
import { isConnectionError } from "../../platform/db/availability.ts";
import type { Database } from "../../platform/db/database.ts";
import { toMessage } from "../dispatcher.ts";
import { Listener } from "../../platform/db/listener.ts";
import * as store from "./stream.store.ts";

/** The NOTIFY channel the dispatcher announces on after each player's commit: `{userId, lastId}`. */
export const STREAM_CHANNEL = "ludus_stream";

/** One message of a player's stream: one dispatched outbox row. */
export interface StreamMessage {
  /** The outbox id: the SSE `id:`, what a client resumes after. */
  id: number;
  /** The event type (SSE `event:`). */
  event: string;
  data: {
    id: number;
    eventId: string;
    type: string;
    occurredAt: string;
    parentId: string | null;
    data: Record<string, unknown>;
    effects: ReturnType<typeof toMessage>["effects"];
  };
}

/** Where a subscription's messages go: an SSE response or a WebSocket. */
export interface StreamSink {
  /** Sends one message; resolves when the transport accepted it (backpressure). */
  send(message: StreamMessage): Promise<void>;
  /** Tells the client the resume point is gone: reload state, then go on live. */
  resync(reason: string): Promise<void>;
  heartbeat(): void;
  /** Ends the transport (server shutdown, session ended, slow client). */
  end(): void;
}

export interface StreamSettings {
  /** Comment lines / pings this often; each also polls for messages a lost NOTIFY left behind. */
  heartbeatMs: number;
  /** Rows read per query. */
  batch: number;
  /** Open streams per player on one instance; the oldest is closed past it. */
  maxPerPlayer: number;
  /** Open streams on one instance; a stream opened past it is refused (503). */
  maxPerInstance: number;
}

export const STREAM_DEFAULTS: StreamSettings = {
  heartbeatMs: 15_000,
  batch: 100,
  maxPerPlayer: 10,
  maxPerInstance: 10_000,
};

/** How often open streams are polled while the instance's LISTEN connection is down. */
const UNHEARD_POLL_MS = 1000;

/** Thrown by `open` when the instance already holds `maxPerInstance` streams. */
export class StreamCapacityReached extends Error {
  override name = "StreamCapacityReached";
}

interface Subscription {
  userId: string;
  /** The session that opened the stream: checked on every heartbeat (logout ends the stream). */
  sessionId: string | undefined;
  lastId: number;
  sink: StreamSink;
  busy: boolean;
  again: boolean;
  closed: boolean;
}

export interface OpenStream {
  /** Where the stream started: the last id already known to the client. */
  startedAfter: number;
  close(): void;
}

/** `undefined`: live only; `0`: everything still kept; otherwise resume after that id. */
export type ResumeFrom = number | undefined;

export function streamMessage(row: Parameters<typeof toMessage>[0]): StreamMessage {
  const m = toMessage(row);
  return {
    id: m.id,
    event: m.type,
    data: {
      id: m.id,
      eventId: m.eventId,
      type: m.type,
      occurredAt: m.occurredAt,
      parentId: m.parentId,
      data: m.data,
      effects: m.effects,
    },
  };
}

/**
 * The realtime stream of one instance: every open SSE or WebSocket client, fed from the outbox.
 * A client gets its player's dispatched rows in id order, each exactly once per connection: on
 * any wake-up (the dispatcher of this instance, a `ludus_stream` NOTIFY from any instance, or the
 * heartbeat's poll) the player's rows after the client's last id are read and sent, so a lost
 * NOTIFY only delays a message until the next one or the next heartbeat.
 */
export class StreamHub {
  private readonly subscriptions = new Map<string, Set<Subscription>>();
  private listener: Listener | undefined;
  /** Whether `listener` is this hub's own (made by `listen`), closed with it. */
  private ownListener = false;
  private heartbeat: NodeJS.Timeout | undefined;
  /** The poll while the listener is down (see `attach`). */
  private unheard: NodeJS.Timeout | undefined;
  /** Set by `endAll`: a stream still opening then is ended instead of added. */
  private closing = false;
  /** Streams between their request and their subscription (reading where to start). */
  private opening = 0;

  constructor(
    private readonly db: Database,
    private readonly logger: Logger,
    readonly settings: StreamSettings = STREAM_DEFAULTS,
    private readonly clock: Clock = systemClock,
  ) {}

  /** Open streams on this instance. */
  get size(): number {
    let n = 0;
    for (const set of this.subscriptions.values()) n += set.size;
    return n;
  }

  /** Whether the instance's cap is reached, counting streams still opening. */
  get full(): boolean {
    return this.size + this.opening >= this.settings.maxPerInstance;
  }

  /**
   * Hears other instances' announcements on the instance's shared listener; after every
   * (re)connection, every open stream catches up (announcements made while it was down were lost).
   */
  attach(listener: Listener): void {
    if (this.listener !== undefined) return;
    this.listener = listener;
    listener.on(STREAM_CHANNEL, (payload) => this.onNotify(payload));
    listener.onConnect(() => {
      clearInterval(this.unheard);
      this.unheard = undefined;
      void this.pollAll();
    });
    // While other instances cannot be heard, open streams are polled every second instead.
    listener.onDisconnect(() => {
      if (this.unheard !== undefined) return;
      this.unheard = setInterval(() => {
        if (this.subscriptions.size > 0) void this.pollAll();
      }, UNHEARD_POLL_MS);
      this.unheard.unref();
    });
  }

  /** Listens on a connection of its own (tests; the server shares one listener, see `attach`). */
  async listen(url: string, switchRole: boolean): Promise<void> {
    if (this.listener !== undefined) return;
    const listener = new Listener({ url, switchRole, logger: this.logger });
    this.attach(listener);
    this.ownListener = true;
    await listener.start();
  }

  /** The listening connection, for tests that cut it. */
  get listening(): Listener | undefined {
    return this.listener;
  }

  /**
   * Opens a stream for a player: finds where it starts (see ResumeFrom), then sends what the
   * client missed and, from then on, every new message.
   */
  async open(userId: string, from: ResumeFrom, sink: StreamSink, sessionId?: string): Promise<OpenStream> {
    if (this.full) throw new StreamCapacityReached();
    // The slot is held while the start is read, so streams opening at once cannot pass the cap.
    this.opening += 1;
    let start: { after: number; resync: boolean };
    try {
      start = await this.db.asUser(userId, async (tx) => {
        if (from === undefined) return { after: await store.head(tx, userId), resync: false };
        if (from === 0 || (await store.isKept(tx, userId, from))) return { after: from, resync: false };
        return { after: await store.head(tx, userId), resync: true };
      });
    } finally {
      this.opening -= 1;
    }
    if (this.closing) {
      // The server began shutting down while this stream was opening: endAll has passed it by.
      sink.end();
      return { startedAfter: start.after, close: () => {} };
    }
    const sub: Subscription = {
      userId,
      sessionId,
      lastId: start.after,
      sink,
      busy: false,
      again: false,
      closed: false,
    };
    let set = this.subscriptions.get(userId);
    if (set === undefined) this.subscriptions.set(userId, (set = new Set()));
    set.add(sub);
    if (set.size > this.settings.maxPerPlayer) {
      const oldest = set.values().next().value;
      if (oldest !== undefined) {
        this.remove(oldest);
        oldest.sink.end();
      }
    }
    this.ensureHeartbeat();
    if (start.resync) {
      await sink.resync("The resume point is no longer kept: reload, then follow the stream");
    }
    this.pump(sub);
    return { startedAfter: start.after, close: () => this.remove(sub) };
  }

  /** Tells the player's streams that rows up to `lastId` were dispatched (any instance). */
  poke(userId: string, lastId?: number): void {
    const set = this.subscriptions.get(userId);
    if (set === undefined) return;
    for (const sub of set) if (lastId === undefined || lastId > sub.lastId) this.pump(sub);
  }

  /** Ends every open stream (server shutdown: clients reconnect elsewhere and resume). */
  endAll(): void {
    this.closing = true;
    for (const set of this.subscriptions.values()) {
      for (const sub of set) {
        sub.closed = true;
        sub.sink.end();
      }
    }
    this.subscriptions.clear();
    clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    clearInterval(this.unheard);
    this.unheard = undefined;
  }

  async close(): Promise<void> {
    this.endAll();
    if (this.ownListener) await this.listener?.close();
    this.listener = undefined;
  }

  private onNotify(payload: string): void {
    try {
      const { userId, lastId } = JSON.parse(payload) as { userId?: unknown; lastId?: unknown };
      if (typeof userId === "string") this.poke(userId, typeof lastId === "number" ? lastId : undefined);
    } catch {
      this.logger.warn({ payload: payload.slice(0, 200) }, "unreadable ludus_stream notification");
    }
  }

  private remove(sub: Subscription): void {
    sub.closed = true;
    const set = this.subscriptions.get(sub.userId);
    if (set === undefined) return;
    set.delete(sub);
    if (set.size === 0) this.subscriptions.delete(sub.userId);
    if (this.subscriptions.size === 0) {
      clearInterval(this.heartbeat);
      this.heartbeat = undefined;
    }
  }

  private ensureHeartbeat(): void {
    if (this.heartbeat !== undefined) return;
    this.heartbeat = setInterval(() => void this.beat(), this.settings.heartbeatMs);
    this.heartbeat.unref();
  }

  /**
   * One heartbeat (the interval calls it; tests too): a heartbeat to every stream, the end of
   * streams whose session or account ended, and the catch-up poll.
   */
  async beat(): Promise<void> {
    for (const set of this.subscriptions.values()) for (const sub of set) sub.sink.heartbeat();
    await this.checkSessions();
    await this.pollAll();
  }

  /**
   * One query for the sessions of every open stream: a stream whose session was revoked (logout)
   * or expired, or whose account was deactivated or deleted, is ended.
   */
  private async checkSessions(): Promise<void> {
    const subs = [...this.subscriptions.values()].flatMap((set) => [...set]);
    const ids = [...new Set(subs.flatMap((sub) => (sub.sessionId === undefined ? [] : [sub.sessionId])))];
    if (ids.length === 0) return;
    try {
      const live = new Set<string>();
      for (let i = 0; i < ids.length; i += 1000) {
        const rows = await this.db.asSystem((tx) =>
          store.liveSessions(tx, ids.slice(i, i + 1000), this.clock.now()),
        );
        for (const r of rows) live.add(`${r.id}/${r.user_id}`);
      }
      for (const sub of subs) {
        if (sub.closed || sub.sessionId === undefined || live.has(`${sub.sessionId}/${sub.userId}`)) continue;
        this.remove(sub);
        sub.sink.end();
      }
    } catch (err) {
      // A database outage is logged once by the database layer; the next heartbeat tries again.
      if (!isConnectionError(err)) this.logger.warn({ err }, "stream session check failed");
    }
  }

  /** One query for every subscribed player: wakes the streams that are behind. */
  private async pollAll(): Promise<void> {
    const users = [...this.subscriptions.keys()];
    try {
      for (let i = 0; i < users.length; i += 1000) {
        const found = await this.db.asSystem((tx) => store.heads(tx, users.slice(i, i + 1000)));
        for (const h of found) this.poke(h.user_id, h.id);
      }
    } catch (err) {
      if (!isConnectionError(err)) this.logger.warn({ err }, "stream catch-up poll failed");
    }
  }

  /** Sends the player's rows after the subscription's last id; one pass at a time per subscription. */
  private pump(sub: Subscription): void {
    if (sub.closed) return;
    if (sub.busy) {
      sub.again = true;
      return;
    }
    sub.busy = true;
    void (async () => {
      try {
        do {
          sub.again = false;
          for (;;) {
            const rows = await this.db.asUser(sub.userId, (tx) =>
              store.dispatchedAfter(tx, sub.userId, sub.lastId, this.settings.batch),
            );
            for (const row of rows) {
              if (sub.closed) return;
              await sub.sink.send(streamMessage(row));
              sub.lastId = row.id;
            }
            if (rows.length < this.settings.batch) break;
          }
        } while (sub.again && !sub.closed);
      } catch (err) {
        this.logger.warn({ err, userId: sub.userId }, "stream send failed; closing it");
        this.remove(sub);
        sub.sink.end();
      } finally {
        sub.busy = false;
      }
    })();
  }
}
