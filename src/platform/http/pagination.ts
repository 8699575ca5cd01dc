import { AppError } from "./errors.ts";

/**
 * Keyset cursor: the (time, id) of the last row of a page, opaque to clients. The time is
 * PostgreSQL's own text for the timestamp, so its microseconds survive the round trip.
 */
export interface Cursor {
  at: string;
  id: string;
  /** A third key part, for lists where (time, id) is not unique (a quest's period key). */
  part?: string;
}

export function encodeCursor(at: string, id: string, part?: string): string {
  return Buffer.from(JSON.stringify(part === undefined ? [at, id] : [at, id, part])).toString("base64url");
}

const PART = /^[A-Za-z0-9_-]{1,40}$/;

const PG_TIMESTAMP = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,6})?[+-]\d{2}(:\d{2})?$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function decodeCursor(cursor: string | undefined): Cursor | undefined {
  if (cursor === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    if (
      Array.isArray(value) &&
      (value.length === 2 || (value.length === 3 && typeof value[2] === "string" && PART.test(value[2]))) &&
      typeof value[0] === "string" &&
      typeof value[1] === "string" &&
      PG_TIMESTAMP.test(value[0]) &&
      UUID.test(value[1])
    ) {
      return value.length === 3
        ? { at: value[0], id: value[1], part: value[2] as string }
        : { at: value[0], id: value[1] };
    }
  } catch {
    // fall through to the error below
  }
  throw new AppError("validation.failed", "The cursor is not valid", {
    errors: [{ path: "querystring/cursor", message: "is not a cursor from this API" }],
  });
}

/** Turns limit+1 fetched rows into a page and the cursor of the next one. */
export function toPage<R, T>(
  rows: R[],
  limit: number,
  key: (row: R) => Cursor,
  map: (row: R) => T,
): { items: T[]; nextCursor: string | null } {
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  const nextCursor =
    rows.length > limit && last !== undefined
      ? encodeCursor(key(last).at, key(last).id, key(last).part)
      : null;
  return { items: page.map(map), nextCursor };
}
