/**
 * Child process started by runLoad (bench/lib/load.ts): receives one LoadSpec over IPC, runs autocannon
 * and sends back a LoadSummary. Not a benchmark on its own (bench/run-all.ts only runs bench/*.ts).
 */
import path from "node:path";
import { pathToFileURL } from "node:url";
import { inspect } from "node:util";
import autocannon from "autocannon";
import { BENCH_ROOT, type BodyFactory, type LoadSpec, type LoadSummary, type WorkerMessage } from "./load.ts";

async function requestsFor(spec: LoadSpec, counters: { starved: number }): Promise<autocannon.Request[]> {
  const body = spec.body;
  const headers = { ...spec.headers, "content-type": "application/json" };
  switch (body.kind) {
    case "fixed":
      return [{ method: spec.method, headers, body: body.json }];
    case "generated": {
      const imported = (await import(pathToFileURL(path.resolve(BENCH_ROOT, body.module)).href)) as {
        createBodies?: BodyFactory;
      };
      if (typeof imported.createBodies !== "function") {
        throw new Error(`${body.module} does not export createBodies`);
      }
      const make = imported.createBodies(body.options);
      let next = 0;
      return [
        {
          method: spec.method,
          headers,
          setupRequest: (request) => {
            const made = make(next++);
            if (typeof made === "string") return { ...request, body: made };
            return {
              ...request,
              body: made.body,
              ...(made.path === undefined ? {} : { path: made.path }),
              headers: { ...request.headers, ...made.headers },
            };
          },
        },
      ];
    }
    case "rotate": {
      let next = 0;
      return [
        {
          method: spec.method,
          headers,
          setupRequest: (request) => {
            const json = body.jsons[next % body.jsons.length];
            next += 1;
            return { ...request, body: json };
          },
        },
      ];
    }
    case "refresh": {
      // autocannon clears a client's context after each pass over `requests`, so the unused tokens
      // live in one queue shared by all connections. onResponse runs before the connection builds its
      // next request, so a connection's new token is back in the queue before it takes one.
      const queue = [...body.tokens];
      return [
        {
          method: spec.method,
          headers,
          setupRequest: (request) => {
            const token = queue.shift();
            if (token === undefined) counters.starved += 1;
            return { ...request, body: JSON.stringify({ refreshToken: token ?? "queue-was-empty" }) };
          },
          onResponse: (status, responseBody) => {
            if (status !== 200) return;
            const parsed = JSON.parse(responseBody) as { refreshToken?: unknown };
            if (typeof parsed.refreshToken === "string") queue.push(parsed.refreshToken);
          },
        },
      ];
    }
  }
}

/** Nearest-rank percentile of sorted values. */
function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
}

async function run(spec: LoadSpec): Promise<LoadSummary> {
  const counters = { starved: 0 };
  // autocannon's own latency histogram keeps whole milliseconds; keep every response time instead.
  let latencies = new Float64Array(1 << 16);
  let count = 0;
  const requests = await requestsFor(spec, counters);
  send({ started: true });
  const cpuBefore = process.cpuUsage();
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: spec.url,
        connections: spec.connections,
        duration: spec.durationSeconds,
        amount: spec.amount,
        requests,
        title: spec.title,
      },
      (error: unknown, done: autocannon.Result) => {
        if (error !== null && error !== undefined) {
          reject(error instanceof Error ? error : new Error(inspect(error)));
        } else resolve(done);
      },
    );
    instance.on("response", (_client, _status, _bytes, responseTime) => {
      if (count === latencies.length) {
        const bigger = new Float64Array(latencies.length * 2);
        bigger.set(latencies);
        latencies = bigger;
      }
      latencies[count++] = responseTime;
    });
  });
  const cpu = process.cpuUsage(cpuBefore);
  const sorted = latencies.subarray(0, count).sort();
  let sum = 0;
  for (const latency of sorted) sum += latency;
  const statusCodes: Record<string, number> = {};
  for (const [code, stats] of Object.entries(result.statusCodeStats ?? {})) {
    statusCodes[code] = stats.count ?? 0;
  }
  return {
    title: spec.title,
    rps: result.requests.average,
    responses: result.requests.total,
    mean: count > 0 ? sum / count : 0,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: percentile(sorted, 100),
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    statusCodes,
    durationSeconds: result.duration,
    tokenStarved: counters.starved,
    loadCpuSeconds: (cpu.user + cpu.system) / 1e6,
  };
}

function send(message: WorkerMessage, then: () => void = () => undefined): void {
  if (process.send === undefined) {
    console.error("load-worker.ts must be started by runLoad (bench/lib/load.ts), with an IPC channel");
    process.exit(1);
  }
  process.send(message, then);
}

function reply(message: WorkerMessage, code: number): void {
  send(message, () => process.exit(code));
}

// If the benchmark dies, do not keep hammering its (gone) server.
process.on("disconnect", () => process.exit(1));

process.once("message", (message) => {
  run(message as LoadSpec).then(
    (summary) => reply({ ok: true, summary }, 0),
    (error: unknown) =>
      reply({ ok: false, error: error instanceof Error ? error.message : String(error) }, 1),
  );
});
