import { Type, type TSchema } from "typebox";
import { ERROR_STATUS } from "./errors.ts";

export const Uuid = Type.String({ format: "uuid", description: "A UUID" });
export const Timestamp = Type.String({ format: "date-time" });
export const NullableTimestamp = Type.Union([Timestamp, Type.Null()]);

export const IdParams = Type.Object({ id: Uuid }, { additionalProperties: false });

export const Problem = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    code: Type.Enum(Object.keys(ERROR_STATUS), { description: "Stable machine-readable error code" }),
    detail: Type.String(),
    instance: Type.String(),
    requestId: Type.String(),
    errors: Type.Optional(Type.Array(Type.Object({ path: Type.String(), message: Type.String() }))),
  },
  { $id: "Problem", description: "An RFC 9457 problem document" },
);

/** Error answers a route may give, each as application/problem+json. */
export function problems(...statuses: number[]): Record<number, unknown> {
  const all = new Set([400, 429, 500, ...statuses]);
  return Object.fromEntries(
    [...all].map((status) => [
      status,
      { description: "Problem", content: { "application/problem+json": { schema: Type.Ref("Problem") } } },
    ]),
  );
}

export const PageQuery = {
  limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
  cursor: Type.Optional(Type.String({ maxLength: 200, pattern: "^[A-Za-z0-9_-]+$" })),
};

export function Page<T extends TSchema>(item: T) {
  return Type.Object({
    items: Type.Array(item),
    nextCursor: Type.Union([Type.String(), Type.Null()], {
      description: "Pass as ?cursor= for the next page",
    }),
  });
}

export const NoContent = Type.Null({ description: "No content" });
