import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  compileCondition,
  compileStoredCondition,
  ConditionError,
  MAX_REGEX_SUBJECT,
  readsPlayer,
} from "./conditions.ts";

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

  it("match $regex with its $options, inside $not and on arrays of strings", () => {
    const on = (note: unknown) => ({ event: { data: { note } } });
    const starts = compileCondition({ "event.data.note": { $regex: "^run" } });
    assert.equal(starts(on("running")), true);
    assert.equal(starts(on("a run")), false);
    assert.equal(starts(on(42)), false, "only strings match a $regex");
    assert.equal(starts(on(["walk", "run"])), true);
    const caseless = compileCondition({ "event.data.note": { $regex: "^RUN$", $options: "i" } });
    assert.equal(caseless(on("run")), true);
    const not = compileCondition({ "event.data.note": { $not: { $regex: "\\d" } } });
    assert.deepEqual([not(on("abc")), not(on("a1"))], [true, false]);
    const named = compileCondition({ "event.data.note": { $regex: "^(?<word>[a-z]+)/(\\d{2})$" } });
    assert.deepEqual([named(on("ab/12")), named(on("ab/123"))], [true, false]);
  });

  it("match a catastrophic-backtracking $regex in linear time", () => {
    // With a backtracking engine, 2^28 ways to split the a's are tried before failing: seconds.
    const test = compileCondition({ "event.data.note": { $regex: "^(a+)+$" } });
    const subject = { event: { data: { note: `${"a".repeat(28)}!` } } };
    const longest = { event: { data: { note: `${"a".repeat(MAX_REGEX_SUBJECT - 1)}!` } } };
    const start = process.cpuUsage();
    assert.equal(test(subject), false);
    assert.equal(test(longest), false);
    const used = process.cpuUsage(start);
    const ms = (used.user + used.system) / 1000;
    assert.ok(ms < 50, `took ${ms} ms of CPU`);
    assert.equal(test({ event: { data: { note: "aaaa" } } }), true);
  });

  it("never match a $regex against strings longer than the bound", () => {
    const any = compileCondition({ "event.data.note": { $regex: "a" } });
    assert.equal(any({ event: { data: { note: "a".repeat(MAX_REGEX_SUBJECT) } } }), true);
    assert.equal(any({ event: { data: { note: "a".repeat(MAX_REGEX_SUBJECT + 1) } } }), false);
  });

  it("refuse patterns that need backtracking, bad patterns and bad $options when defined", () => {
    const tooComplex = "\\p{L}{300}";
    for (const pattern of ["(a)\\1", "^(?=a)", "(?<!a)b", "[", "a{2,1}", 7, "x".repeat(201), tooComplex]) {
      assert.throws(() => compileCondition({ "event.data.note": { $regex: pattern } }), ConditionError);
    }
    assert.throws(() => compileCondition({ "event.data.note": { $regex: tooComplex } }), /too complex/);
    assert.doesNotThrow(() =>
      compileCondition({ "event.data.note": { $regex: "^[a-z0-9._%+-]+@[a-z0-9.-]+$" } }),
    );
    for (const options of ["g", "x", "iu", 1]) {
      assert.throws(
        () => compileCondition({ "event.data.note": { $regex: "a", $options: options } }),
        /\$options/,
      );
    }
    // Nested under $not, $or and $elemMatch too.
    assert.throws(() => compileCondition({ "event.data.n": { $not: { $regex: "(?=a)" } } }), ConditionError);
    assert.throws(
      () => compileCondition({ $or: [{ "event.data.n": { $regex: "(a)\\1" } }] }),
      ConditionError,
    );
  });

  it("compile a stored condition that no longer compiles into one that never holds", () => {
    const stored = compileStoredCondition({ "event.data.note": { $regex: "^(?=a)a" } });
    assert.equal(stored({ event: { data: { note: "a" } } }), false);
    assert.equal(
      compileStoredCondition({ "event.data.note": "a" })({ event: { data: { note: "a" } } }),
      true,
    );
  });

  it("know when the player's state is needed", () => {
    assert.equal(readsPlayer({ "player.level": 3 }), true);
    assert.equal(readsPlayer({ "event.data.minutes": 3 }), false);
    assert.equal(readsPlayer(null), false);
  });
});
