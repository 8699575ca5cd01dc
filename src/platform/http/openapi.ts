import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import type { FastifyInstance } from "fastify";
import { Type } from "typebox";
import { Problem } from "./schemas.ts";

/** OpenAPI 3.1 built from the route schemas, at /openapi.json, with interactive docs at /docs. */
export async function registerOpenApi(app: FastifyInstance, version: string): Promise<void> {
  app.addSchema(Problem);
  await app.register(swagger, {
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "Ludus API",
        version,
        description:
          "Gamification backend: events in; XP, levels, currencies, achievements, quests, streaks and leaderboards out. " +
          "Errors are application/problem+json (RFC 9457) with a stable `code`.",
      },
      components: {
        securitySchemes: {
          bearer: {
            type: "http",
            scheme: "bearer",
            bearerFormat: "JWT",
            description: "A player's access token",
          },
          apiKey: {
            type: "apiKey",
            in: "header",
            name: "X-API-Key",
            description: "An app backend's API key",
          },
        },
      },
    },
    refResolver: {
      // Name shared schemas after their $id so components read "Problem", not "def-0".
      buildLocalReference: (json, _baseUri, _fragment, i) =>
        typeof json.$id === "string" ? json.$id : `def-${i}`,
    },
  });
  await app.register(swaggerUi, { routePrefix: "/docs", staticCSP: true });
  app.get(
    "/openapi.json",
    { schema: { hide: true, response: { 200: Type.Object({}, { additionalProperties: true }) } } },
    async () => app.swagger(),
  );
}
