/**
 * The level curve: how much total XP each level needs. Either a formula — reaching level L takes
 * base·(L−1)^exponent XP — or an explicit table of thresholds (level 1 at 0), extended past its end
 * by repeating the last step. Levels are always derived from total XP, never stored as truth.
 */
export type LevelCurve =
  | { kind: "formula"; base: number; exponent: number; maxLevel: number }
  | { kind: "table"; thresholds: number[]; maxLevel: number };

export const DEFAULT_CURVE: LevelCurve = { kind: "formula", base: 100, exponent: 2, maxLevel: 1000 };

/** Total XP needed to reach a level (level 1 needs 0). */
export function xpForLevel(curve: LevelCurve, level: number): number {
  if (level <= 1) return 0;
  if (curve.kind === "formula") return Math.round(curve.base * (level - 1) ** curve.exponent);
  const t = curve.thresholds;
  if (level <= t.length) return t[level - 1] ?? 0;
  const last = t[t.length - 1] ?? 0;
  const step = t.length >= 2 ? last - (t[t.length - 2] ?? 0) : Math.max(1, last);
  return last + step * (level - t.length);
}

/** The level a total XP amount gives. */
export function levelForXp(curve: LevelCurve, totalXp: number): number {
  // Binary search over levels: xpForLevel is non-decreasing for any valid curve.
  let lo = 1;
  let hi = curve.maxLevel;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (xpForLevel(curve, mid) <= totalXp) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

export interface LevelProgress {
  level: number;
  totalXp: number;
  xpIntoLevel: number;
  /** XP still needed for the next level; 0 at the maximum level. */
  xpToNextLevel: number;
  levelStartXp: number;
  nextLevelXp: number | null;
}

export function progressFor(curve: LevelCurve, totalXp: number): LevelProgress {
  const level = levelForXp(curve, totalXp);
  const start = xpForLevel(curve, level);
  const next = level >= curve.maxLevel ? null : xpForLevel(curve, level + 1);
  return {
    level,
    totalXp,
    xpIntoLevel: totalXp - start,
    xpToNextLevel: next === null ? 0 : next - totalXp,
    levelStartXp: start,
    nextLevelXp: next,
  };
}

/** Why a curve is unusable, or undefined: thresholds must start at 0 and strictly increase. */
export function curveProblem(curve: LevelCurve): string | undefined {
  if (curve.maxLevel < 2 || curve.maxLevel > 10000) return "maxLevel must be between 2 and 10000";
  if (curve.kind === "formula") {
    if (!(curve.base > 0) || !(curve.exponent >= 1) || curve.exponent > 4) {
      return "base must be positive and exponent between 1 and 4";
    }
    return undefined;
  }
  const t = curve.thresholds;
  if (t.length < 2 || t[0] !== 0) return "thresholds must start with 0 and have at least two entries";
  for (let i = 1; i < t.length; i++) {
    if ((t[i] ?? 0) <= (t[i - 1] ?? 0)) return "thresholds must strictly increase";
  }
  return undefined;
}
