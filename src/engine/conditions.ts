import { RE2JS } from "re2js";
import siftModule from "sift";

// sift is CommonJS: under NodeNext its typings put the query compiler on .default, which is also
// where it sits at run time.
const sift = siftModule.default;
const createEqualsOperation = siftModule.createEqualsOperation;
type SiftOptions = NonNullable<Parameters<typeof sift>[1]>;
type SiftOperationOptions = Parameters<typeof createEqualsOperation>[2];

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

/** The longest `$regex` pattern a condition may hold. */
export const MAX_REGEX_LENGTH = 200;
/**
 * The longest string a `$regex` is matched against; a longer value never matches. Matching is
 * linear in the string's length, this bounds the constant.
 */
export const MAX_REGEX_SUBJECT = 1000;
/**
 * The most instructions a compiled `$regex` may have. Matching costs up to (instructions × string
 * length) steps; counted repetitions (`\p{L}{900}`) make large programs from short patterns.
 */
export const MAX_REGEX_PROGRAM = 250;
/** `$options` letters: case-insensitive, multi-line, dot matches newlines. */
const REGEX_FLAGS: Record<string, number> = {
  i: RE2JS.CASE_INSENSITIVE,
  m: RE2JS.MULTILINE,
  s: RE2JS.DOTALL,
};

/**
 * Compiles a `$regex` with RE2 (the re2js port), which matches in time linear in the input: no
 * pattern can backtrack catastrophically, and patterns that need backtracking to mean anything
 * (back-references, look-arounds) are refused. The pattern is JavaScript syntax, translated.
 */
function compileRegex(pattern: unknown, options: unknown): RE2JS {
  if (typeof pattern !== "string") throw new ConditionError("$regex must be a string");
  if (pattern.length > MAX_REGEX_LENGTH) {
    throw new ConditionError(`a $regex may be at most ${MAX_REGEX_LENGTH} characters`);
  }
  if (options !== undefined && !(typeof options === "string" && /^[ims]{0,3}$/.test(options))) {
    throw new ConditionError("$options may only hold the letters i, m and s");
  }
  let flags = 0;
  for (const letter of typeof options === "string" ? options : "") flags |= REGEX_FLAGS[letter] ?? 0;
  let re: RE2JS;
  try {
    re = RE2JS.compile(RE2JS.translateRegExp(pattern), flags);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ConditionError(`$regex is not a pattern Ludus can match in linear time: ${reason}`);
  }
  const program = (re.re2().prog as { numInst?: () => number } | undefined)?.numInst?.() ?? 0;
  if (program > MAX_REGEX_PROGRAM) {
    throw new ConditionError(`$regex is too complex (${program} steps; at most ${MAX_REGEX_PROGRAM})`);
  }
  return re;
}

const siftOptions: SiftOptions = {
  operations: {
    // Replaces sift's own $regex, which would use the backtracking RegExp of JavaScript.
    $regex: (pattern: unknown, ownerQuery: Record<string, unknown>, options: SiftOperationOptions) => {
      const re = compileRegex(pattern, ownerQuery.$options);
      const test = (value: unknown) =>
        typeof value === "string" && value.length <= MAX_REGEX_SUBJECT && re.test(value);
      return createEqualsOperation(test, ownerQuery, options);
    },
    // Refused by the checks below already; never reachable through sift either.
    $where: () => {
      throw new ConditionError("operator $where is not allowed");
    },
  },
};

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
    if (key === "$regex") compileRegex(value, (node as Record<string, unknown>).$options);
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
    const test = sift(condition as Record<string, unknown>, siftOptions);
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
    if (error instanceof ConditionError) throw error;
    throw new ConditionError(error instanceof Error ? error.message : String(error));
  }
}

/**
 * Compiles a condition read back from the database. One that no longer compiles (stored before a
 * rule tightened, such as a `$regex` with a look-ahead from before matching moved to RE2) never
 * holds, rather than stopping every definition from loading.
 */
export function compileStoredCondition(condition: unknown): Predicate {
  try {
    return compileCondition(condition);
  } catch (error) {
    if (error instanceof ConditionError) return () => false;
    throw error;
  }
}

/** Whether a condition reads the player's state (so the engine loads it only when needed). */
export function readsPlayer(condition: unknown): boolean {
  return condition !== null && condition !== undefined && JSON.stringify(condition).includes('"player');
}
