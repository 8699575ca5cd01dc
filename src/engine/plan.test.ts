import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import { AppError } from "../platform/http/errors.ts";
import { DEFAULT_CURVE } from "../progression/levels.ts";
import { createSchemaCompiler, toRuleDef, type RuleRow, type Snapshot } from "./definitions.ts";
import { emptyPlayerState, Planner, type ApplyInput, type PlayerState } from "./plan.ts";

// The planner is the engine without I/O: these tests need no database.
const ajv = createSchemaCompiler();
const rule = (r: Partial<RuleRow> & Pick<RuleRow, "key" | "event_type">): RuleRow => ({
  id: createHash("md5")
    .update(r.key)
    .digest("hex")
    .replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, "$1-$2-$3-$4-$5"),
  name: r.key,
  description: null,
  condition: null,
  awards: [],
  counters: [],
  caps: [],
  priority: 0,
  active: true,
  version: 1,
  created_at: new Date(),
  updated_at: new Date(),
  ...r,
});

function snapshot(rules: RuleRow[]): Snapshot {
  const types = ["meal.logged", "level.up"];
  return {
    eventTypes: new Map(
      types.map((key) => [
        key,
        {
          key,
          description: null,
          dataSchema: {},
          clientWritable: true,
          clientDailyCap: key === "meal.logged" ? 2 : null,
          system: key === "level.up",
          active: true,
          validate: ajv.compile({}),
        },
      ]),
    ),
    rulesByType: new Map(types.map((t) => [t, rules.filter((r) => r.event_type === t).map(toRuleDef)])),
    currencies: new Set(["xp", "coins"]),
    currencyCaps: new Map(),
    achievements: [],
    streaks: [],
    streaksByType: new Map(),
    quests: [],
    questsByType: new Map(),
    pools: new Map(),
    boards: [],
    curve: DEFAULT_CURVE,
  };
}

const player = (id = "00000000-0000-4000-8000-000000000001", timeZone = "Asia/Tokyo"): PlayerState =>
  emptyPlayerState(id, 1, { timeZone, dayStartHour: 0 });

const meal = (over: Partial<ApplyInput> = {}): ApplyInput => ({
  type: "meal.logged",
  userId: "00000000-0000-4000-8000-000000000001",
  occurredAt: new Date("2026-03-01T16:00:00Z"), // 01:00 on 2 March in Tokyo
  data: { calories: 700 },
  source: "api_key",
  sourceId: null,
  idempotencyKey: null,
  scope: "key:test",
  requestHash: Buffer.from("a"),
  ...over,
});

describe("planner", () => {
  const rules = [
    rule({
      key: "meal",
      event_type: "meal.logged",
      awards: [
        { currency: "xp", amount: 60 },
        { currency: "coins", field: "data.calories", multiplier: 0.01 },
      ],
      counters: [{ stat: "meals" }],
      caps: [{ currency: "xp", period: "day", max: 100 }],
    }),
    rule({ key: "bonus", event_type: "level.up", awards: [{ currency: "coins", amount: 50 }] }),
  ];

  it("pays awards with running balances, caps them per player day, counts in the player's zone", () => {
    const p = player();
    const planner = new Planner(snapshot(rules), new Map([[p.userId, p]]), new Map(), new Date());
    const first = planner.submit(meal());
    const second = planner.submit(meal());
    assert.deepEqual(
      first.effects.awards.map((a) => [a.rule, a.currency, a.amount, a.balance, a.capped]),
      [
        ["meal", "xp", 60, 60, false],
        ["meal", "coins", 7, 7, false],
      ],
    );
    // The cap of 100 xp a day leaves 40 for the second meal; the day is Tokyo's 2 March.
    const xp = second.effects.awards.find((a) => a.currency === "xp")!;
    assert.deepEqual([xp.amount, xp.balance, xp.capped], [40, 100, true]);
    assert.deepEqual(
      second.effects.counters.find((c) => c.stat === "meals"),
      { stat: "meals", day: "2026-03-02", daily: 2, total: 2 },
    );
    assert.equal(planner.writes.caps.size, 1);
    assert.equal([...planner.writes.caps.values()][0]!.amount, 100);
    // Each ledger entry's balance_after is the running sum per currency.
    assert.deepEqual(
      planner.writes.ledger.filter((l) => l.currency === "xp").map((l) => l.balanceAfter),
      [60, 100],
    );
  });

  it("derives one level.up per level crossed, and their rules pay", () => {
    const p = player();
    p.wallets.set("xp", { balance: 90, earned: 90 });
    const planner = new Planner(
      snapshot([
        rule({ key: "big", event_type: "meal.logged", awards: [{ currency: "xp", amount: 850 }] }),
        rules[1]!,
      ]),
      new Map([[p.userId, p]]),
      new Map(),
      new Date(),
    );
    const result = planner.submit(meal());
    // 940 xp: level 4 needs 900, so 1 → 2 → 3 → 4.
    assert.deepEqual(
      result.effects.levelUps.map((l) => l.level),
      [2, 3, 4],
    );
    assert.deepEqual(
      result.effects.derived.map((d) => d.type),
      ["level.up", "level.up", "level.up"],
    );
    assert.equal(result.effects.balances.coins, 150);
    assert.equal(planner.writes.progress.get(p.userId)!.level, 4);
    assert.equal(planner.writes.progress.get(p.userId)!.counted, 1, "derived events are not counted");
    assert.equal(planner.writes.events.length, 4);
  });

  it("answers a repeated key from memory, refuses it with other content, and caps client events", () => {
    const p = player();
    const planner = new Planner(snapshot(rules), new Map([[p.userId, p]]), new Map(), new Date());
    const first = planner.submit(meal({ idempotencyKey: "k" }));
    const again = planner.submit(meal({ idempotencyKey: "k" }));
    assert.equal(again.duplicate, true);
    assert.equal(again.eventId, first.eventId);
    assert.equal(planner.writes.events.length, 1);
    assert.throws(
      () => planner.submit(meal({ idempotencyKey: "k", requestHash: Buffer.from("b") })),
      (e: unknown) => e instanceof AppError && e.code === "idempotency.key_reused",
    );
    planner.submit(meal({ source: "player" }));
    planner.submit(meal({ source: "player" }));
    assert.throws(
      () => planner.submit(meal({ source: "player" })),
      (e: unknown) => e instanceof AppError && e.code === "event.client_cap_reached",
    );
  });
});
