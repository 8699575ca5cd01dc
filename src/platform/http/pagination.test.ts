import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { AppError } from "./errors.ts";
import { decodeCursor, encodeCursor, toPage } from "./pagination.ts";

const pad = (n: number, width = 2) => String(n).padStart(width, "0");

/** Timestamps as PostgreSQL prints timestamptz::text: "2026-01-15 12:00:00.123456+00" and variants. */
const pgTimestamp = fc
  .record({
    date: fc.date({
      min: new Date("1000-01-01T00:00:00Z"),
      max: new Date("9999-12-31T23:59:59Z"),
      noInvalidDate: true,
    }),
    fraction: fc.option(fc.stringMatching(/^\d{1,6}$/), { nil: undefined }),
    sign: fc.constantFrom("+", "-"),
    offsetHours: fc.integer({ min: 0, max: 14 }),
    offsetMinutes: fc.option(fc.constantFrom(0, 15, 30, 45), { nil: undefined }),
  })
  .map(({ date, fraction, sign, offsetHours, offsetMinutes }) => {
    const d = date;
    const day = `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
    const time = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
    const frac = fraction === undefined ? "" : `.${fraction}`;
    const offset = `${sign}${pad(offsetHours)}${offsetMinutes === undefined ? "" : `:${pad(offsetMinutes)}`}`;
    return `${day} ${time}${frac}${offset}`;
  });

function isCursorError(error: unknown): boolean {
  return (
    error instanceof AppError &&
    error.code === "validation.failed" &&
    error.status === 400 &&
    error.extra.errors?.[0]?.path === "querystring/cursor"
  );
}

describe("cursor encoding", () => {
  it("round-trips a PostgreSQL timestamp and a UUID", () => {
    const at = "2026-01-15 12:00:00.123456+00";
    const id = "0b6a4e1c-7b7e-4f7e-9d2a-3c1f5e8a9b0c";
    const cursor = encodeCursor(at, id);
    assert.match(cursor, /^[A-Za-z0-9_-]+$/, "URL-safe, no padding");
    assert.deepEqual(decodeCursor(cursor), { at, id });
  });

  it("round-trips arbitrary timestamp/uuid pairs (property)", () => {
    fc.assert(
      fc.property(pgTimestamp, fc.uuid(), fc.boolean(), (at, uuid, upper) => {
        const id = upper ? uuid.toUpperCase() : uuid;
        const cursor = encodeCursor(at, id);
        assert.match(cursor, /^[A-Za-z0-9_-]+$/);
        // Cursors travel in query strings validated by PageQuery: at most 200 characters.
        assert.ok(cursor.length <= 200, `cursor of ${cursor.length} characters`);
        assert.deepEqual(decodeCursor(cursor), { at, id });
      }),
      { numRuns: 500 },
    );
  });

  it("passes an absent cursor through as undefined", () => {
    assert.equal(decodeCursor(undefined), undefined);
  });

  it("rejects malformed cursors with AppError validation.failed", () => {
    const id = "0b6a4e1c-7b7e-4f7e-9d2a-3c1f5e8a9b0c";
    const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
    const bad = [
      "",
      "garbage",
      "!!!",
      Buffer.from("not json").toString("base64url"),
      b64({ at: "2026-01-15 12:00:00+00", id }),
      b64(["2026-01-15 12:00:00+00"]),
      b64(["2026-01-15 12:00:00+00", id, "extra", "more"]),
      b64(["2026-01-15 12:00:00+00", id, "a period; DROP TABLE users"]),
      b64(["2026-01-15 12:00:00+00", id, 7]),
      b64(["2026-01-15 12:00:00+00", id, ""]),
      b64([1_700_000_000, id]),
      b64(["2026-01-15 12:00:00+00", 42]),
      b64(["2026-01-15T12:00:00Z", id]),
      b64(["2026-01-15 12:00:00", id]),
      b64(["2026-01-15 12:00:00.1234567+00", id]),
      b64(["yesterday", id]),
      b64(["2026-01-15 12:00:00+00", "not-a-uuid"]),
      b64(["2026-01-15 12:00:00+00", `${id}0`]),
      b64(["2026-01-15 12:00:00+00; DROP TABLE users", id]),
      b64(null),
      b64("just a string"),
    ];
    for (const cursor of bad) {
      assert.throws(() => decodeCursor(cursor), isCursorError, `accepted ${JSON.stringify(cursor)}`);
    }
  });

  it("carries a third part (a quest's period key) through a round trip", () => {
    const id = "0b6a4e1c-7b7e-4f7e-9d2a-3c1f5e8a9b0c";
    assert.deepEqual(decodeCursor(encodeCursor("2026-01-15 12:00:00+00", id, "2026-W03")), {
      at: "2026-01-15 12:00:00+00",
      id,
      part: "2026-W03",
    });
  });

  it("never throws anything but the cursor error on arbitrary input (property)", () => {
    const check = (input: string) => {
      try {
        const decoded = decodeCursor(input);
        // Whatever decodes must be a well-formed pair that encodes back to an equivalent cursor.
        assert.ok(decoded);
        assert.deepEqual(decodeCursor(encodeCursor(decoded.at, decoded.id)), decoded);
      } catch (error) {
        assert.ok(isCursorError(error), String(error));
      }
    };
    const base64urlJson = fc.jsonValue().map((v) => Buffer.from(JSON.stringify(v)).toString("base64url"));
    const pairs = fc
      .tuple(fc.oneof(fc.string(), pgTimestamp), fc.oneof(fc.string(), fc.uuid()))
      .map((pair) => Buffer.from(JSON.stringify(pair)).toString("base64url"));
    // Any UTF-16 code unit, lone surrogates included (fast-check's "binary" unit is slow to build).
    const anyCodeUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));
    for (const inputs of [
      fc.string(),
      fc.string({ unit: anyCodeUnit }),
      fc.base64String(),
      base64urlJson,
      pairs,
    ]) {
      fc.assert(fc.property(inputs, check), { numRuns: 300 });
    }
  });
});

describe("toPage", () => {
  const key = (r: { at: string; id: string }) => r;
  const rows = (n: number) =>
    Array.from({ length: n }, (_, i) => ({
      at: `2026-01-15 12:00:${pad(i % 60)}+00`,
      id: `00000000-0000-4000-8000-${pad(i, 12)}`,
    }));

  it("gives a cursor of the last item when more rows than the limit were fetched", () => {
    const page = toPage(rows(4), 3, key, (r) => r.id);
    assert.deepEqual(
      page.items,
      rows(3).map((r) => r.id),
    );
    assert.ok(page.nextCursor !== null);
    assert.deepEqual(decodeCursor(page.nextCursor), rows(3)[2]);
  });

  it("gives no cursor when the rows fit", () => {
    assert.deepEqual(
      toPage(rows(3), 3, key, (r) => r.id),
      { items: rows(3).map((r) => r.id), nextCursor: null },
    );
    assert.deepEqual(
      toPage([], 3, key, (r) => r.id),
      { items: [], nextCursor: null },
    );
  });

  it("pages are at most limit long and have a cursor exactly when rows were left over (property)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 30 }), fc.integer({ min: 1, max: 20 }), (n, limit) => {
        const page = toPage(rows(n), limit, key, (r) => r);
        assert.equal(page.items.length, Math.min(n, limit));
        assert.equal(page.nextCursor !== null, n > limit);
        if (page.nextCursor !== null) assert.deepEqual(decodeCursor(page.nextCursor), page.items.at(-1));
      }),
    );
  });
});
