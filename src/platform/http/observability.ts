import type { FastifyInstance } from "fastify";
import { collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { Type } from "typebox";
import type { Database } from "../db/database.ts";
import { AppError } from "./errors.ts";
import { problems } from "./schemas.ts";

const READY_TIMEOUT_MS = 2000;

/** /healthz (the process answers), /readyz (the database answers) and Prometheus /metrics. */
export function registerObservability(app: FastifyInstance, db: Database): void {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const duration = new Histogram({
    name: "ludus_http_request_duration_seconds",
    help: "HTTP request duration by route and status",
    labelNames: ["method", "route", "status"],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  new Gauge({
    name: "ludus_db_pool_connections",
    help: "Database pool connections by state",
    labelNames: ["state"],
    registers: [registry],
    collect() {
      this.set({ state: "total" }, db.pool.totalCount);
      this.set({ state: "idle" }, db.pool.idleCount);
      this.set({ state: "waiting" }, db.pool.waitingCount);
    },
  });

  app.addHook("onResponse", async (request, reply) => {
    // The route pattern (not the raw URL) keeps label cardinality bounded.
    const route = request.routeOptions.url ?? "unmatched";
    duration.observe({ method: request.method, route, status: reply.statusCode }, reply.elapsedTime / 1000);
  });

  const tags = ["operations"];
  app.get(
    "/healthz",
    {
      schema: {
        tags,
        summary: "The process is up",
        response: { 200: Type.Object({ status: Type.Literal("ok") }) },
      },
    },
    async () => ({ status: "ok" as const }),
  );
  app.get(
    "/readyz",
    {
      schema: {
        tags,
        summary: "The database answers",
        response: { 200: Type.Object({ status: Type.Literal("ready") }), ...problems(503) },
      },
    },
    async () => {
      // A database that is down refuses at once; one that hangs is given READY_TIMEOUT_MS.
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          db.pool.query("SELECT 1"),
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error("readiness check timed out")), READY_TIMEOUT_MS);
          }),
        ]);
      } catch {
        throw new AppError("service.unavailable", "The database does not answer", { retryAfterSeconds: 2 });
      } finally {
        clearTimeout(timer);
      }
      return { status: "ready" as const };
    },
  );
  app.get(
    "/metrics",
    {
      schema: {
        tags,
        summary: "Prometheus metrics",
        produces: ["text/plain"],
        response: { 200: Type.String({ description: "Prometheus text exposition format" }) },
      },
    },
    async (_request, reply) => reply.type(registry.contentType).send(await registry.metrics()),
  );
}
