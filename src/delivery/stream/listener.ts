import pg from "pg";
import type { Logger } from "pino";

export interface ListenerOptions {
  url: string;
  /** Connect as the owner and SET ROLE to the runtime role (as the pool does). */
  switchRole: boolean;
  channel: string;
  onNotify: (payload: string) => void;
  /** Called after every (re)connection: notifications sent while down were lost, so catch up. */
  onConnect: () => void;
  logger: Logger;
  /** First wait before reconnecting, doubled per failure up to `maxDelayMs`. */
  minDelayMs?: number;
  maxDelayMs?: number;
}

/**
 * One dedicated connection that LISTENs on a channel and reconnects, with backoff, whenever it
 * drops. A connection pooler in transaction mode cannot carry LISTEN: point `url` at PostgreSQL.
 */
export class Listener {
  private client: pg.Client | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private failures = 0;

  constructor(private readonly options: ListenerOptions) {}

  /** Connects (retrying in the background if that fails) and resolves after the first attempt. */
  async start(): Promise<void> {
    await this.connect();
  }

  get connected(): boolean {
    return this.client !== undefined;
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    const o = this.options;
    const client = new pg.Client({
      connectionString: o.url,
      options: o.switchRole ? "-c role=ludus_app" : undefined,
    });
    let dropped = false;
    const drop = (err?: unknown) => {
      if (dropped) return;
      dropped = true;
      if (this.client === client) this.client = undefined;
      client.removeAllListeners("notification");
      void client.end().catch(() => undefined);
      if (this.closed) return;
      this.failures += 1;
      const delay = Math.min(o.maxDelayMs ?? 30_000, (o.minDelayMs ?? 500) * 2 ** (this.failures - 1));
      o.logger.warn({ err, channel: o.channel, retryInMs: delay }, "stream listener lost; reconnecting");
      this.timer = setTimeout(() => void this.connect(), delay);
      this.timer.unref();
    };
    client.on("error", drop);
    client.on("end", () => drop());
    client.on("notification", (n) => o.onNotify(n.payload ?? ""));
    try {
      await client.connect();
      await client.query(`LISTEN ${client.escapeIdentifier(o.channel)}`);
    } catch (err) {
      drop(err);
      return;
    }
    if (this.closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.failures = 0;
    o.onConnect();
  }

  /** Drops the connection as a network failure would (tests). */
  simulateDrop(): void {
    this.client?.emit("error", new Error("simulated connection loss"));
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
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
