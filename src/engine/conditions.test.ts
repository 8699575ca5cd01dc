import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { compileCondition, ConditionError, readsPlayer } from "./conditions.ts";

describe("conditions", () => {
  const ctx = {
    event: { type: "exercise.logged", data: { minutes: 35, kind: "run" } },
    player: { level: 4 },
  };

  it("match on event data and player state", () => {
    assert.equal(compileCondition({ "event.data.minutes": { $gte: 30 } })(ctx), true);
    assert.equal(compileCondition({ "event.data.minutes": { $gte: 40 } })(ctx), false);
    assert.equal(
      compileCondition({ $or: [{ "player.level": { $gt: 10 } }, { "event.data.kind": "run" }] })(ctx),
      true,
    );
    assert.equal(compileCondition({ "event.data.kind": { $in: ["swim", "bike"] } })(ctx), false);
    assert.equal(compileCondition(null)(ctx), true);
  });

  it("refuse operators that would run code, unknown operators and non-objects", () => {
    assert.throws(() => compileCondition({ $where: "this.player.level > 1" }), ConditionError);
    assert.throws(() => compileCondition({ "event.data": { $function: {} } }), /not allowed/);
    assert.throws(() => compileCondition({ "event.data.x": { $bogus: 1 } }), ConditionError);
    assert.throws(() => compileCondition([1, 2]), /must be an object/);
    assert.throws(() => compileCondition("x > 1"), /must be an object/);
  });

  it("refuse conditions too deep or too large", () => {
    let deep: Record<string, unknown> = { a: 1 };
    for (let i = 0; i < 12; i++) deep = { $and: [deep] };
    assert.throws(() => compileCondition(deep), /nest/);
    const wide = { $or: Array.from({ length: 300 }, (_, i) => ({ [`f${i}`]: i })) };
    assert.throws(() => compileCondition(wide), /parts/);
  });

  it("know when the player's state is needed", () => {
    assert.equal(readsPlayer({ "player.level": 3 }), true);
    assert.equal(readsPlayer({ "event.data.minutes": 3 }), false);
    assert.equal(readsPlayer(null), false);
  });
});
