import type { FastifyPluginAsync, FastifySchema } from "fastify";
import { Type, type Static, type TObject, type TSchema } from "typebox";
import type { AuditActor, RequestMeta } from "../audit/audit.service.ts";
import { actorOf, currentUser, requestMeta, type Guards } from "../identity/guards.ts";
import { problems } from "../platform/http/schemas.ts";
import { DefinitionKey } from "./schemas.ts";

/** A route schema typed only as a schema, so handlers are not typed from generic TypeBox schemas. */
const plain = (schema: FastifySchema): FastifySchema => schema;

/** What a keyed definition's admin routes need: its schemas and the service that lists and saves. */
export interface KeyedDefinitionApi<Create extends TObject, Update extends TObject, View extends TSchema> {
  /** e.g. "/v1/admin/streaks"; updates go to `${path}/:key`. */
  path: string;
  /** The definition's name in summaries, e.g. "streak". */
  noun: string;
  schemas: { create: Create; update: Update; view: View };
  /** Summaries other than the plain ones. */
  summaries?: Partial<Record<"list" | "create" | "update", string>>;
  /** Error statuses an update may give besides 401, 403, 404 and 422 (a 409 for a refused change). */
  updateProblems?: number[];
  list: () => Promise<Static<View>[]>;
  save: (
    actor: AuditActor,
    meta: RequestMeta,
    input: Static<Create> | (Static<Update> & { key: string }),
    mode: "create" | "update",
  ) => Promise<Static<View>>;
}

/**
 * The admin routes every keyed definition has (achievements, streaks, quests, pools): list them,
 * create one (409 if the key exists), change some fields of one (404 if unknown).
 */
export function keyedDefinitionRoutes<Create extends TObject, Update extends TObject, View extends TSchema>(
  api: KeyedDefinitionApi<Create, Update, View>,
): FastifyPluginAsync<{ guards: Guards }> {
  // Schemas still validate and serialize every request and answer; only the static typing of the
  // handlers is plain here, because TypeBox cannot relate these generic schemas to their types.
  return async (app, { guards }) => {
    const security = [{ bearer: [] }];
    const admin = guards.role("admin");
    const tags = ["admin"];

    app.get(
      api.path,
      {
        preHandler: admin,
        schema: plain({
          tags,
          security,
          summary: api.summaries?.list ?? `All ${api.noun} definitions`,
          response: { 200: Type.Object({ items: Type.Array(api.schemas.view) }), ...problems(401, 403) },
        }),
      },
      async () => ({ items: await api.list() }),
    );

    app.post(
      api.path,
      {
        preHandler: admin,
        schema: plain({
          tags,
          security,
          summary: api.summaries?.create ?? `Create a ${api.noun}`,
          body: api.schemas.create,
          response: { 201: api.schemas.view, ...problems(401, 403, 409, 422) },
        }),
      },
      async (request, reply) =>
        reply
          .status(201)
          .send(
            await api.save(
              actorOf(currentUser(request)),
              requestMeta(request),
              request.body as Static<Create>,
              "create",
            ),
          ),
    );

    app.patch(
      `${api.path}/:key`,
      {
        preHandler: admin,
        schema: plain({
          tags,
          security,
          summary: api.summaries?.update ?? `Change a ${api.noun}`,
          params: Type.Object({ key: DefinitionKey }, { additionalProperties: false }),
          body: api.schemas.update,
          response: { 200: api.schemas.view, ...problems(401, 403, 404, 422, ...(api.updateProblems ?? [])) },
        }),
      },
      async (request) =>
        api.save(
          actorOf(currentUser(request)),
          requestMeta(request),
          { ...(request.body as Static<Update>), key: (request.params as { key: string }).key },
          "update",
        ),
    );
  };
}
