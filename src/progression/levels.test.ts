import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  curveProblem,
  DEFAULT_CURVE,
  levelForXp,
  progressFor,
  xpForLevel,
  type LevelCurve,
} from "./levels.ts";

describe("level curve", () => {
  it("the default formula: 100·(L−1)² XP to reach level L", () => {
    assert.equal(xpForLevel(DEFAULT_CURVE, 1), 0);
    assert.equal(xpForLevel(DEFAULT_CURVE, 2), 100);
    assert.equal(xpForLevel(DEFAULT_CURVE, 5), 1600);
    assert.equal(levelForXp(DEFAULT_CURVE, 0), 1);
    assert.equal(levelForXp(DEFAULT_CURVE, 99), 1);
    assert.equal(levelForXp(DEFAULT_CURVE, 100), 2);
    assert.equal(levelForXp(DEFAULT_CURVE, 1599), 4);
    assert.equal(levelForXp(DEFAULT_CURVE, 1600), 5);
  });

  it("progress within a level", () => {
    assert.deepEqual(progressFor(DEFAULT_CURVE, 450), {
      level: 3,
      totalXp: 450,
      xpIntoLevel: 50,
      xpToNextLevel: 450,
      levelStartXp: 400,
      nextLevelXp: 900,
    });
  });

  it("a table curve, extended past its end by its last step", () => {
    const curve: LevelCurve = { kind: "table", thresholds: [0, 50, 150, 300], maxLevel: 100 };
    assert.equal(levelForXp(curve, 49), 1);
    assert.equal(levelForXp(curve, 150), 3);
    assert.equal(xpForLevel(curve, 5), 450);
    assert.equal(levelForXp(curve, 449), 4);
    assert.equal(levelForXp(curve, 450), 5);
  });

  it("stops at the maximum level", () => {
    const curve: LevelCurve = { kind: "formula", base: 10, exponent: 1, maxLevel: 3 };
    assert.equal(levelForXp(curve, 1_000_000), 3);
    assert.equal(progressFor(curve, 1_000_000).xpToNextLevel, 0);
    assert.equal(progressFor(curve, 1_000_000).nextLevelXp, null);
  });

  it("rejects unusable curves", () => {
    assert.match(curveProblem({ kind: "table", thresholds: [0, 10, 10], maxLevel: 10 }) ?? "", /increase/);
    assert.match(curveProblem({ kind: "table", thresholds: [5, 10], maxLevel: 10 }) ?? "", /start with 0/);
    assert.match(curveProblem({ kind: "formula", base: 0, exponent: 2, maxLevel: 10 }) ?? "", /base/);
    assert.equal(curveProblem(DEFAULT_CURVE), undefined);
  });

  it("level is monotonic in XP and consistent with the thresholds (property)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 50_000_000 }), fc.integer({ min: 0, max: 1000 }), (xp, extra) => {
        const level = levelForXp(DEFAULT_CURVE, xp);
        assert.ok(xpForLevel(DEFAULT_CURVE, level) <= xp);
        if (level < DEFAULT_CURVE.maxLevel) assert.ok(xpForLevel(DEFAULT_CURVE, level + 1) > xp);
        assert.ok(levelForXp(DEFAULT_CURVE, xp + extra) >= level);
      }),
    );
  });
});
