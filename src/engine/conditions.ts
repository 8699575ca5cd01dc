import siftModule from "sift";

// sift is CommonJS: under NodeNext its typings put the query compiler on .default, which is also
// where it sits at run time.
const sift = siftModule.default;

/**
 * Conditions are MongoDB-style queries (evaluated by sift) over a context object, for example
 * `{ "event.data.minutes": { "$gte": 30 }, "player.level": { "$lt": 10 } }`. Only the operators
 * below are allowed: `$where` and `$function` would run code.
 */
const ALLOWED = new Set([
  "$eq",
  "$ne",
  "$gt",
  "$gte",
  "$lt",
  "$lte",
  "$in",
  "$nin",
  "$exists",
  "$and",
  "$or",
  "$nor",
  "$not",
  "$all",
  "$size",
  "$elemMatch",
  "$regex",
  "$options",
  "$mod",
  "$type",
]);

// What sift accepts as a $type; anything else would only fail when an event is evaluated.
const TYPE_ALIASES = new Set(["number", "string", "bool", "array", "null", "timestamp"]);

const MAX_DEPTH = 8;
const MAX_NODES = 200;

export class ConditionError extends Error {
  override name = "ConditionError";
}

function check(node: unknown, depth: number, count: { n: number }): void {
  if (++count.n > MAX_NODES) throw new ConditionError(`a condition may have at most ${MAX_NODES} parts`);
  if (depth > MAX_DEPTH) throw new ConditionError(`a condition may nest at most ${MAX_DEPTH} levels`);
  if (Array.isArray(node)) {
    for (const item of node) check(item, depth + 1, count);
    return;
  }
  if (node === null || typeof node !== "object") return;
  for (const [key, value] of Object.entries(node)) {
    if (key.startsWith("$") && !ALLOWED.has(key)) throw new ConditionError(`operator ${key} is not allowed`);
    if (key === "$regex" && typeof value === "string" && value.length > 200) {
      throw new ConditionError("a $regex may be at most 200 characters");
    }
    if (key === "$type" && !(typeof value === "string" && TYPE_ALIASES.has(value))) {
      throw new ConditionError(`$type must be one of ${[...TYPE_ALIASES].join(", ")}`);
    }
    if (key === "$mod" && !(Array.isArray(value) && value.length === 2 && value.every(Number.isFinite))) {
      throw new ConditionError("$mod takes [divisor, remainder]");
    }
    check(value, depth + 1, count);
  }
}

export type Predicate = (context: unknown) => boolean;

/** Compiles a condition, or throws ConditionError saying why it cannot be used. */
export function compileCondition(condition: unknown): Predicate {
  if (condition === null || condition === undefined) return () => true;
  if (typeof condition !== "object" || Array.isArray(condition)) {
    throw new ConditionError("a condition must be an object");
  }
  check(condition, 0, { n: 0 });
  try {
    const test = sift(condition as Record<string, unknown>);
    // A condition that passed the checks above should not throw; if one ever does, it does not
    // hold, rather than failing every event of its type.
    return (context) => {
      try {
        return test(context);
      } catch {
        return false;
      }
    };
  } catch (error) {
    throw new ConditionError(error instanceof Error ? error.message : String(error));
  }
}

/** Whether a condition reads the player's state (so the engine loads it only when needed). */
export function readsPlayer(condition: unknown): boolean {
  return condition !== null && condition !== undefined && JSON.stringify(condition).includes('"player');
}
