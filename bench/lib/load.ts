/**
 * Parent side of the load generator. autocannon runs in a child process (bench/lib/load-worker.ts) so
 * that the client does not share an event loop with the server it measures; the servers stay in the
 * benchmark's own process.
 */
import { fork } from "node:child_process";
import path from "node:path";

export const BENCH_ROOT = path.resolve(import.meta.dirname, "..", "..");

/** What each request carries. */
export type LoadBody =
  /** The same JSON body every time. */
  | { kind: "fixed"; json: string }
  /** One body after another from the list, shared by all connections, round robin. */
  | { kind: "rotate"; jsons: string[] }
  /**
   * Refresh-token rotation: each request takes an unused token from a queue seeded with `tokens`,
   * and a 200 reply puts the new refresh token it carries back in the queue. So every token is sent
   * exactly once, as a real client would, as long as there are at least as many seeds as connections.
   */
  | { kind: "refresh"; tokens: string[] }
  /**
   * Bodies made in the load generator, one per request, never repeated: `module` (a path relative to
   * the repository root) exports `createBodies(options)`, which returns a function from the request's
   * sequence number (0, 1, 2, …) to its JSON body. `options` crosses the IPC channel as JSON.
   */
  | { kind: "generated"; module: string; options: unknown };

/**
 * What a `generated` body module exports: each request's JSON body, or the body with the request's
 * own path (e.g. /v1/shop/{item}/purchase) and headers (e.g. the player's Authorization).
 */
export type BodyFactory = (options: unknown) => (index: number) => string | GeneratedRequest;

export interface GeneratedRequest {
  body: string;
  /** Replaces the path of the spec's URL. */
  path?: string;
  /** Added to (or replacing) the spec's headers. */
  headers?: Record<string, string>;
}

export interface LoadSpec {
  title: string;
  /** Full URL of the endpoint, e.g. http://127.0.0.1:1234/v1/auth/login. */
  url: string;
  method: "GET" | "POST";
  body: LoadBody;
  /** Extra request headers (content-type is always application/json), e.g. x-api-key. */
  headers?: Record<string, string>;
  connections: number;
  durationSeconds: number;
  /** Stop after this many requests instead of after durationSeconds. */
  amount?: number;
}

export interface LoadSummary {
  title: string;
  /** Mean of autocannon's per-second request counts (all responses, whatever their status). */
  rps: number;
  /** Responses received in the run. */
  responses: number;
  /** Mean latency in ms over every response. */
  mean: number;
  /** Latency percentiles in ms over every response (not autocannon's whole-millisecond histogram). */
  p50: number;
  p99: number;
  max: number;
  non2xx: number;
  /** Connection errors, timeouts included. */
  errors: number;
  timeouts: number;
  statusCodes: Record<string, number>;
  durationSeconds: number;
  /** Refresh mode: requests that found the token queue empty (sent a dud token). */
  tokenStarved: number;
  /** CPU time (user + system) the load generator itself used during the run, in seconds. */
  loadCpuSeconds: number;
}

export type WorkerReply = { ok: true; summary: LoadSummary } | { ok: false; error: string };
/** The worker says "started" right before autocannon sends its first request, then replies. */
export type WorkerMessage = { started: true } | WorkerReply;

export interface LoadHooks {
  /** Called when the load starts (the child process is up and autocannon begins). */
  onStart?(): void;
  /** Called when the load has ended, as soon as the result arrives. */
  onDone?(): void;
}

/** Runs one autocannon measurement in a child process and returns its summary. */
export async function runLoad(spec: LoadSpec, hooks: LoadHooks = {}): Promise<LoadSummary> {
  const child = fork(path.join(BENCH_ROOT, "bench", "lib", "load-worker.ts"), [], {
    cwd: BENCH_ROOT,
    execArgv: ["--import", "tsx"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  return new Promise<LoadSummary>((resolve, reject) => {
    let reply: WorkerReply | undefined;
    child.on("message", (message) => {
      const m = message as WorkerMessage;
      if ("started" in m) hooks.onStart?.();
      else {
        reply = m;
        hooks.onDone?.();
      }
    });
    child.once("error", reject);
    child.once("exit", (code, signal) => {
      if (reply?.ok === true) resolve(reply.summary);
      else if (reply?.ok === false) reject(new Error(`load generator failed: ${reply.error}`));
      else reject(new Error(`load generator exited (code ${code}, signal ${signal}) without a result`));
    });
    child.send(spec);
  });
}
