import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Ajv } from "ajv";
import addFormatsModule from "ajv-formats";
import { createTestContext, type TestContext } from "./helpers/context.ts";

// ajv-formats is CommonJS; its default export arrives wrapped under ESM.
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

/**
 * Every JSON example in docs/ says what it is, on the line before its fence (blank lines between
 * are allowed):
 *
 *     <!-- example: POST /v1/auth/login request -->
 *     <!-- example: POST /v1/auth/login response 200 -->
 *
 * The path is written as in the OpenAPI document (`/v1/users/{id}`). This test checks each example
 * against that operation's request body or response schema in the app's own OpenAPI document, so
 * the docs cannot drift from the server. A ```json block without a label fails the test.
 */
const LABEL = /^<!--\s*example:\s*(GET|POST|PUT|PATCH|DELETE)\s+(\S+)\s+(request|response\s+(\d{3}))\s*-->$/;

interface Example {
  where: string;
  label: string | undefined;
  text: string;
}

function examples(dir: string): Example[] {
  const found: Example[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".md"))) {
    const lines = readFileSync(join(dir, file), "utf8").split("\n");
    for (let i = 0; i < lines.length; i++) {
      if (!/^\s*```json\s*$/.test(lines[i] ?? "")) continue;
      let end = i + 1;
      while (end < lines.length && !/^\s*```\s*$/.test(lines[end] ?? "")) end++;
      let prev = i - 1;
      while (prev >= 0 && (lines[prev] ?? "").trim() === "") prev--;
      const before = (lines[prev] ?? "").trim();
      found.push({
        where: `docs/${file}:${i + 1}`,
        label: before.startsWith("<!-- example:") ? before : undefined,
        text: lines.slice(i + 1, end).join("\n"),
      });
      i = end;
    }
  }
  return found;
}

const pointer = (...parts: string[]) =>
  parts.map((p) => p.replaceAll("~", "~0").replaceAll("/", "~1")).join("/");

describe("JSON examples in docs/", () => {
  let ctx: TestContext;
  let doc: {
    paths: Record<
      string,
      Record<
        string,
        {
          requestBody?: { content?: Record<string, { schema?: unknown }> };
          responses?: Record<string, { content?: Record<string, { schema?: unknown }> }>;
        }
      >
    >;
  };
  before(async () => {
    ctx = await createTestContext({ content: false });
    doc = (await ctx.app.inject({ method: "GET", url: "/openapi.json" })).json();
  });
  after(() => ctx.close());

  it("are each labelled with a route and direction, and match that schema", () => {
    const found = examples(join(import.meta.dirname, "..", "docs"));
    assert.ok(found.length >= 5, `only ${found.length} examples found`);
    const ajv = addFormats(new Ajv({ strict: false, allErrors: true }));
    ajv.addSchema(doc, "openapi");
    const problems: string[] = [];
    for (const ex of found) {
      const m = ex.label === undefined ? null : LABEL.exec(ex.label);
      if (m === null) {
        problems.push(`${ex.where}: label it, e.g. <!-- example: POST /v1/auth/login response 200 -->`);
        continue;
      }
      const [, method = "", path = "", direction = "", status] = m;
      const op = doc.paths[path]?.[method.toLowerCase()];
      if (op === undefined) {
        problems.push(`${ex.where}: ${method} ${path} is not in the OpenAPI document`);
        continue;
      }
      const base = ["paths", path, method.toLowerCase()];
      let at: string[];
      if (direction === "request") {
        const type = Object.keys(op.requestBody?.content ?? {})[0];
        if (type === undefined) {
          problems.push(`${ex.where}: ${method} ${path} takes no body`);
          continue;
        }
        at = [...base, "requestBody", "content", type, "schema"];
      } else {
        const type = Object.keys(op.responses?.[status ?? ""]?.content ?? {})[0];
        if (type === undefined) {
          problems.push(`${ex.where}: ${method} ${path} has no ${status} response body`);
          continue;
        }
        at = [...base, "responses", status ?? "", "content", type, "schema"];
      }
      let value: unknown;
      try {
        value = JSON.parse(ex.text);
      } catch (error) {
        problems.push(`${ex.where}: not JSON (${(error as Error).message})`);
        continue;
      }
      const validate = ajv.compile({ $ref: `openapi#/${pointer(...at)}` });
      if (!validate(value)) problems.push(`${ex.where}: ${ajv.errorsText(validate.errors)}`);
    }
    assert.deepEqual(problems, []);
  });

  it("an unlabelled or wrong example is caught (the checker checks)", () => {
    const ajv = addFormats(new Ajv({ strict: false }));
    ajv.addSchema(doc, "openapi");
    const at = pointer(
      "paths",
      "/v1/auth/login",
      "post",
      "responses",
      "200",
      "content",
      "application/json",
      "schema",
    );
    const validate = ajv.compile({ $ref: `openapi#/${at}` });
    // The bare token pair docs/api.md once showed for login is not what login answers.
    assert.equal(
      validate({
        accessToken: "eyJ",
        refreshToken: "r",
        tokenType: "Bearer",
        expiresIn: 900,
        sessionId: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
      }),
      false,
    );
    assert.equal(LABEL.test("<!-- example: POST /v1/auth/login -->"), false);
  });
});
