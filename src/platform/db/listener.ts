import pg from "pg";
import type { Logger } from "pino";

/** The `application_name` of the listening connection (find it in `pg_stat_activity`). */
export const LISTENER_APPLICATION_NAME = "ludus-listener";

export interface ListenerOptions {
  /**
   * A direct connection to PostgreSQL: a pooler in transaction mode cannot carry LISTEN (the
   * server gives DATABASE_URL, never DATABASE_APP_URL).
   */
  url: string;
  /** Connect as the owner and SET ROLE to the runtime role (as the pool does); LISTEN needs no rights. */
  switchRole?: boolean;
  logger: Logger;
  /** First wait before reconnecting, doubled per failure up to `maxDelayMs`. */
  minDelayMs?: number;
  maxDelayMs?: number;
  /** How long a query on the connection (LISTEN) may take before the connection counts as lost. */
  queryTimeoutMs?: number;
}

type Handler = (payload: string) => void;

/**
 * The one LISTEN connection of an instance, shared by every cache that NOTIFY keeps fresh
 * (definitions, API keys, the realtime stream's fan-out, the rank index's health check). It
 * reconnects with backoff whenever it drops; subscribers hear `onDisconnect` at once (their caches
 * stop trusting themselves) and `onConnect` after every (re)connection (notifications sent while it
 * was down were lost, so every cache reloads).
 */
export class Listener {
  private client: pg.Client | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private failures = 0;
  private readonly channels = new Map<string, Handler[]>();
  private readonly connectHandlers: (() => void)[] = [];
  private readonly disconnectHandlers: (() => void)[] = [];
  /** Settles when the current connection attempt ends (close() waits for it). */
  private attempt: Promise<void> | undefined;
  private pid: number | undefined;

  constructor(private readonly options: ListenerOptions) {}

  /** Calls `handler` with the payload of every NOTIFY on `channel` (register before `start`). */
  on(channel: string, handler: Handler): void {
    const list = this.channels.get(channel);
    if (list !== undefined) {
      list.push(handler);
      return;
    }
    this.channels.set(channel, [handler]);
    const client = this.client;
    if (client !== undefined) {
      // Started already: listen on the live connection too (a failure drops and reconnects it).
      client.query(`LISTEN ${client.escapeIdentifier(channel)}`).catch((err: unknown) => {
        client.emit("error", err);
      });
    }
  }

  /** Called after every (re)connection, once LISTEN is in place. */
  onConnect(handler: () => void): void {
    this.connectHandlers.push(handler);
  }

  /** Called at once when the connection is lost. */
  onDisconnect(handler: () => void): void {
    this.disconnectHandlers.push(handler);
  }

  /** Connects (retrying in the background if that fails) and resolves after the first attempt. */
  async start(): Promise<void> {
    await this.connect();
  }

  /** The server process of the live connection (`pg_stat_activity.pid`), if connected. */
  get backendPid(): number | undefined {
    return this.client === undefined ? undefined : this.pid;
  }

  /** Whether notifications are being heard now. */
  get connected(): boolean {
    return this.client !== undefined;
  }

  private connect(): Promise<void> {
    const run = this.connectOnce();
    this.attempt = run;
    return run;
  }

  private async connectOnce(): Promise<void> {
    if (this.closed) return;
    const o = this.options;
    const client = new pg.Client({
      connectionString: o.url,
      options: o.switchRole === true ? "-c role=ludus_app" : undefined,
      application_name: LISTENER_APPLICATION_NAME,
      keepAlive: true,
      connectionTimeoutMillis: 10_000,
      query_timeout: o.queryTimeoutMs ?? 10_000,
    });
    let dropped = false;
    const drop = (err?: unknown) => {
      if (dropped) return;
      dropped = true;
      const wasLive = this.client === client;
      if (wasLive) this.client = undefined;
      client.removeAllListeners("notification");
      // A dropped client may still emit errors while it ends: never leave them unhandled.
      client.on("error", () => undefined);
      void client.end().catch(() => undefined);
      if (wasLive) this.emit(this.disconnectHandlers, "disconnect");
      if (this.closed) return;
      this.failures += 1;
      const delay = Math.min(o.maxDelayMs ?? 10_000, (o.minDelayMs ?? 250) * 2 ** (this.failures - 1));
      o.logger.warn({ err, retryInMs: delay }, "LISTEN connection lost; caches bypassed until it is back");
      this.timer = setTimeout(() => void this.connect(), delay);
      this.timer.unref();
    };
    client.on("error", drop);
    client.on("end", () => drop());
    client.on("notification", (n) => {
      for (const handler of this.channels.get(n.channel) ?? []) {
        try {
          handler(n.payload ?? "");
        } catch (err) {
          o.logger.warn({ err, channel: n.channel }, "notification handler failed");
        }
      }
    });
    try {
      await client.connect();
      for (const channel of this.channels.keys()) {
        await client.query(`LISTEN ${client.escapeIdentifier(channel)}`);
      }
      this.pid = (await client.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]?.pid;
    } catch (err) {
      drop(err);
      return;
    }
    if (this.closed || dropped) {
      if (!dropped) {
        dropped = true;
        client.removeAllListeners("end");
        client.on("error", () => undefined);
        await client.end().catch(() => undefined);
      }
      return;
    }
    this.client = client;
    if (this.failures > 0) o.logger.info("LISTEN connection back; caches reloaded");
    this.failures = 0;
    this.emit(this.connectHandlers, "connect");
  }

  private emit(handlers: (() => void)[], what: string): void {
    for (const handler of handlers) {
      try {
        handler();
      } catch (err) {
        this.options.logger.warn({ err }, `listener ${what} handler failed`);
      }
    }
  }

  /** Drops the connection as a network failure would (tests). */
  simulateDrop(): void {
    this.client?.emit("error", new Error("simulated connection loss"));
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    // A connection attempt in flight ends itself once it sees `closed`.
    await this.attempt?.catch(() => undefined);
    const client = this.client;
    this.client = undefined;
    if (client !== undefined) {
      client.removeAllListeners("end");
      client.removeAllListeners("error");
      client.on("error", () => undefined);
      await client.end().catch(() => undefined);
    }
  }
}
