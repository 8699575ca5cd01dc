import type { FastifyInstance } from "fastify";
import { AppError } from "./errors.ts";

/**
 * Bounds on the structure of JSON that Ludus accepts. `JSON.parse` copes with any nesting, but much
 * of what comes after it (schema validation, canonical hashing, condition matching, serialising
 * back) walks values recursively; a body nested thousands of levels deep would exhaust the stack
 * there. So every JSON body is checked against these bounds right after parsing, by an iterative
 * walk, before anything else sees it.
 */
export interface JsonLimits {
  /** Objects and arrays nested inside one another (`{"a":[1]}` is 2). */
  maxDepth: number;
  /** Keys of any one object. */
  maxKeys: number;
  /** Items of any one array. */
  maxItems: number;
}

export const JSON_LIMITS: JsonLimits = { maxDepth: 32, maxKeys: 1000, maxItems: 10_000 };

export interface JsonShapeViolation {
  kind: "depth" | "keys" | "items";
  /** Where, as `prefix/key/0/…`. */
  path: string;
  message: string;
}

interface Node {
  value: object;
  depth: number;
  parent: Node | undefined;
  key: string;
}

function pathOf(node: Node, prefix: string): string {
  const parts: string[] = [];
  for (let n: Node | undefined = node; n?.parent !== undefined; n = n.parent) parts.push(n.key);
  return [prefix, ...parts.reverse()].filter((p) => p !== "").join("/");
}

/**
 * The first place where `value` goes past `limits`, or undefined when it stays inside them. Never
 * recurses, so it is safe on any value `JSON.parse` can produce.
 */
export function checkJsonShape(
  value: unknown,
  limits: JsonLimits = JSON_LIMITS,
  prefix = "",
): JsonShapeViolation | undefined {
  if (value === null || typeof value !== "object") return undefined;
  const stack: Node[] = [{ value, depth: 1, parent: undefined, key: "" }];
  while (stack.length > 0) {
    const node = stack.pop()!;
    const fail = (kind: JsonShapeViolation["kind"], message: string): JsonShapeViolation => ({
      kind,
      path: pathOf(node, prefix),
      message,
    });
    if (node.depth > limits.maxDepth) {
      return fail("depth", `JSON may nest objects and arrays at most ${limits.maxDepth} levels deep`);
    }
    if (Array.isArray(node.value)) {
      const items = node.value as unknown[];
      if (items.length > limits.maxItems) {
        return fail("items", `a JSON array may have at most ${limits.maxItems} items`);
      }
      for (let i = 0; i < items.length; i++) {
        const item = items[i];
        if (item !== null && typeof item === "object") {
          stack.push({ value: item, depth: node.depth + 1, parent: node, key: String(i) });
        }
      }
    } else {
      const keys = Object.keys(node.value);
      if (keys.length > limits.maxKeys) {
        return fail("keys", `a JSON object may have at most ${limits.maxKeys} keys`);
      }
      for (const key of keys) {
        const item = (node.value as Record<string, unknown>)[key];
        if (item !== null && typeof item === "object") {
          stack.push({ value: item, depth: node.depth + 1, parent: node, key });
        }
      }
    }
  }
  return undefined;
}

/** The refusal of a request whose JSON goes past the limits. */
export function jsonShapeError(violation: JsonShapeViolation): AppError {
  const code = violation.kind === "depth" ? "request.json_too_deep" : "request.json_too_large";
  return new AppError(code, violation.message, {
    errors: [{ path: violation.path, message: violation.message }],
  });
}

/**
 * Replaces Fastify's JSON body parser with one that also checks the structure against
 * {@link JSON_LIMITS}. Parsing itself stays Fastify's (prototype-poisoning keys refused, the same
 * errors for empty and malformed bodies). Register before any route plugin, so all inherit it.
 */
export function registerJsonLimits(app: FastifyInstance, limits: JsonLimits = JSON_LIMITS): void {
  const parse = app.getDefaultJsonParser("error", "error");
  app.addContentTypeParser("application/json", { parseAs: "string" }, (request, body, done) => {
    void parse(request, body as string, (error: Error | null, value?: unknown) => {
      if (error !== null) return done(error, undefined);
      const violation = checkJsonShape(value, limits, "body");
      if (violation !== undefined) return done(jsonShapeError(violation), undefined);
      done(null, value);
    });
  });
}
