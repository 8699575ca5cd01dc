import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { Validator } from "@seriousme/openapi-schema-validator";
import { bearer, createAdmin, createTestContext, type TestContext } from "./helpers/context.ts";

/** A well-formed id that names nothing: a random UUID, or an unused key for {key} parameters. */
const unknownId = (param: string): string => (param === "key" ? "no.such.thing" : randomUUID());

interface MediaType {
  schema?: unknown;
}
interface Parameter {
  in: string;
  name: string;
  required?: boolean;
  schema?: unknown;
}
interface Operation {
  parameters?: Parameter[];
  requestBody?: { content?: Record<string, MediaType> };
  responses?: Record<string, { content?: Record<string, MediaType> }>;
}
type PathItem = Record<string, Operation | Parameter[] | undefined> & { parameters?: Parameter[] };
interface OpenApiDoc {
  openapi: string;
  paths: Record<string, PathItem>;
}

const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/** Every operation of the document as [METHOD path, path-level parameters, operation]. */
function operations(doc: OpenApiDoc): [string, string, string, Parameter[], Operation][] {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([method]) => METHODS.includes(method))
      .map(([method, op]): [string, string, string, Parameter[], Operation] => [
        `${method.toUpperCase()} ${path}`,
        method,
        path,
        item.parameters ?? [],
        op as Operation,
      ]),
  );
}

describe("OpenAPI document", () => {
  let ctx: TestContext;
  let doc: OpenApiDoc;
  before(async () => {
    ctx = await createTestContext();
    const res = await ctx.app.inject({ method: "GET", url: "/openapi.json" });
    assert.equal(res.statusCode, 200, res.body);
    assert.match(String(res.headers["content-type"]), /^application\/json/);
    doc = res.json<OpenApiDoc>();
  });
  after(() => ctx.close());

  it("is a valid OpenAPI 3.1 document", async () => {
    assert.match(doc.openapi, /^3\.1\./);
    const validator = new Validator();
    const result = await validator.validate(structuredClone(doc) as unknown as Record<string, unknown>);
    assert.equal(result.valid, true, `OpenAPI errors: ${JSON.stringify(result.errors, null, 2)}`);
    assert.equal(validator.version, "3.1");
    // The validator is not vacuous: the same document without its info object fails.
    const broken: Record<string, unknown> = { ...structuredClone(doc) };
    delete broken.info;
    assert.equal((await new Validator().validate(broken)).valid, false);
  });

  it("lists the API's routes", () => {
    const names = operations(doc).map(([name]) => name);
    assert.ok(names.length >= 20, `only ${names.length} operations`);
    for (const expected of ["POST /v1/auth/register", "GET /v1/admin/audit-logs", "GET /healthz"]) {
      assert.ok(names.includes(expected), `${expected} is documented`);
    }
    assert.ok(!names.some((n) => n.endsWith(" /openapi.json")), "/openapi.json itself is hidden");
  });

  it("every operation documents a success response with a schema", () => {
    const missing = operations(doc)
      .filter(([, , , , op]) => {
        const responses = Object.entries(op.responses ?? {});
        return !responses.some(([status, response]) => {
          if (status === "204") return Object.keys(response.content ?? {}).length === 0;
          // A WebSocket route answers 101 and then speaks frames (documented in its description).
          if (status === "101") return true;
          return (
            /^2\d\d$/.test(status) &&
            Object.values(response.content ?? {}).some((media) => media.schema !== undefined)
          );
        });
      })
      .map(([name]) => name);
    assert.deepEqual(missing, [], "operations without a documented success schema");
  });

  it("every path parameter is declared, in: path and required", () => {
    const problems: string[] = [];
    for (const [name, , path, shared, op] of operations(doc)) {
      const declared = [...shared, ...(op.parameters ?? [])].filter((p) => p.in === "path");
      const inPath = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
      for (const param of inPath) {
        const found = declared.find((p) => p.name === param);
        if (found === undefined) problems.push(`${name}: {${param}} is not declared`);
        else if (found.required !== true) problems.push(`${name}: {${param}} is not required`);
        else if (found.schema === undefined) problems.push(`${name}: {${param}} has no schema`);
      }
      for (const p of declared) {
        if (!inPath.includes(p.name)) problems.push(`${name}: declares path parameter ${p.name} not in path`);
      }
    }
    assert.deepEqual(problems, []);
  });

  it("every route that validates a body documents a requestBody with a schema, and vice versa", async () => {
    const problems: string[] = [];
    let probed = 0;
    for (const [name, method, path, , op] of operations(doc)) {
      if (method === "get" || method === "head") continue;
      probed += 1;
      // Ask the route itself: a JSON array as the body, an admin's credentials (guards run before
      // validation), well-formed path parameters. A route with a body schema answers 400 about
      // "body"; one without answers from its handler. A fresh session each time, since a route
      // without a body may be the one that ends it.
      const url = path.replace(/\{([^}]+)\}/g, (_, name: string) => unknownId(name));
      const auth = bearer((await createAdmin(ctx)).accessToken);
      const res = await ctx.app.inject({
        method: method.toUpperCase() as "POST",
        url,
        headers: { "content-type": "application/json", ...auth },
        payload: "[]",
      });
      const body = res.body === "" ? {} : res.json<{ code?: string; errors?: { path: string }[] }>();
      const routeHasBody =
        res.statusCode === 400 &&
        body.code === "validation.failed" &&
        (body.errors ?? []).some((e) => e.path.startsWith("body"));
      const schemas = Object.values(op.requestBody?.content ?? {}).filter((m) => m.schema !== undefined);
      if (routeHasBody && schemas.length === 0) problems.push(`${name}: validates a body, documents none`);
      if (!routeHasBody && op.requestBody !== undefined)
        problems.push(`${name}: documents a body it does not validate (${res.statusCode} ${res.body})`);
      if (routeHasBody && op.requestBody?.content?.["application/json"]?.schema === undefined)
        problems.push(`${name}: no application/json body schema`);
    }
    assert.ok(probed >= 10, `probed ${probed} operations`);
    assert.deepEqual(problems, []);
  });

  it("serves interactive docs at /docs", async () => {
    let res = await ctx.app.inject({ method: "GET", url: "/docs" });
    if (res.statusCode >= 300 && res.statusCode < 400) {
      const location = String(res.headers.location);
      assert.match(location, /docs/);
      res = await ctx.app.inject({ method: "GET", url: new URL(location, "http://localhost/docs").pathname });
    }
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers["content-type"]), /^text\/html/);
  });

  it("answers /healthz, /readyz and /metrics", async () => {
    const health = await ctx.app.inject({ method: "GET", url: "/healthz" });
    assert.equal(health.statusCode, 200);
    assert.deepEqual(health.json(), { status: "ok" });

    const ready = await ctx.app.inject({ method: "GET", url: "/readyz" });
    assert.equal(ready.statusCode, 200);
    assert.deepEqual(ready.json(), { status: "ready" });

    const metrics = await ctx.app.inject({ method: "GET", url: "/metrics" });
    assert.equal(metrics.statusCode, 200);
    assert.match(String(metrics.headers["content-type"]), /^text\/plain/);
    assert.ok(
      metrics.body.includes("ludus_http_request_duration_seconds"),
      "metrics include the request duration histogram",
    );
    // The histogram is labelled with the route pattern, never the raw URL.
    assert.match(metrics.body, /ludus_http_request_duration_seconds_count\{[^}]*route="\/healthz"/);
  });
});
