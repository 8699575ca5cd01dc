/**
 * Realtime stream latency: how long after an app backend sends an event its player's open SSE
 * stream (GET /v1/me/stream) receives it. The baseline is the event request itself (POST
 * /v1/events answered): what is left is the dispatcher, the NOTIFY and the stream's read and write.
 * (The tests only check that messages arrive; this is where the figure is kept.)
 */
import { openSse } from "../test/helpers/sse-client.ts";
import { AdminApi } from "./lib/admin.ts";
import { startLudus } from "./lib/ludus.ts";
import { describeMachine, fail, fmt, intFromEnv, table } from "./lib/report.ts";

const EVENTS = intFromEnv("BENCH_EVENTS", 200, 10);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

async function main(): Promise<void> {
  await describeMachine();
  const ludus = await startLudus({
    LUDUS_ADMIN_EMAIL: "bench-stream@example.com",
    LUDUS_ADMIN_PASSWORD: "bench stream admin password",
    LUDUS_EVENTS_RATE_LIMIT: "1000000",
    LUDUS_AUTH_RATE_LIMIT: "100000",
  });
  try {
    const base = ludus.server.url;
    const key = await (await AdminApi.login(ludus)).createApiKey("bench-stream", ["events:write"]);
    const registered = await fetch(`${base}/v1/auth/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        email: "streamer@example.com",
        username: "streamer",
        password: "a long password",
      }),
    });
    if (registered.status !== 201) fail(`register: ${registered.status}`);
    const player = (await registered.json()) as { user: { id: string }; tokens: { accessToken: string } };
    const client = await openSse(`${base}/v1/me/stream`, {
      authorization: `Bearer ${player.tokens.accessToken}`,
    });
    if (client.res.status !== 200) fail(`stream: ${client.res.status}`);
    await client.until(() => client.comments > 0, 5000, "the connected comment");

    const request: number[] = [];
    const arrival: number[] = [];
    for (let i = 0; i < EVENTS; i++) {
      const sentAt = performance.now();
      const res = await fetch(`${base}/v1/events`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-api-key": key },
        body: JSON.stringify({ userId: player.user.id, type: "meal.logged", data: { mealType: "snack" } }),
      });
      request.push(performance.now() - sentAt);
      if (res.status !== 201) fail(`event ${i}: ${res.status} ${await res.text()}`);
      const { eventId } = (await res.json()) as { eventId: string };
      const message = await client.next(
        (m) => m.event === "meal.logged" && (JSON.parse(m.data) as { eventId: string }).eventId === eventId,
        30_000,
      );
      arrival.push(message.at - sentAt);
    }
    await client.close();

    const row = (name: string, values: number[]) => {
      const sorted = [...values].sort((a, b) => a - b);
      return [
        name,
        fmt(percentile(sorted, 50), 2),
        fmt(percentile(sorted, 99), 2),
        fmt(sorted.at(-1) ?? NaN, 2),
      ];
    };
    console.log(`\n${EVENTS} events, one at a time, on ${ludus.where}\n`);
    console.log(
      table(
        ["measure", "p50 ms", "p99 ms", "max ms"],
        [row("POST /v1/events answered (baseline)", request), row("message on the SSE stream", arrival)],
      ),
    );
  } finally {
    await ludus.cleanup();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
