import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import { keyedDefinitionRoutes } from "../engine/keyed-routes.ts";
import { actorOf, currentUser, requestMeta, type Guards } from "../identity/guards.ts";
import { IdParams, Page, problems } from "../platform/http/schemas.ts";
import type { GiftsService } from "./gifts.service.ts";
import type { InventoryService } from "./inventory.service.ts";
import {
  CreateGift,
  CreateShopItem,
  Gift,
  GrantBody,
  GrantResult,
  InventoryEntry,
  InventoryQuery,
  Purchase,
  PurchasesQuery,
  RefundBody,
  RefundResult,
  ShopItem,
  UpdateGift,
  UpdateShopItem,
} from "./shop.schemas.ts";
import type { ShopService } from "./shop.service.ts";

/** Operators' side of the economy: items, gifts, a player's inventory and purchases, grants, refunds. */
export const shopAdminRoutes: FastifyPluginAsyncTypebox<{
  shop: ShopService;
  inventory: InventoryService;
  gifts: GiftsService;
  guards: Guards;
}> = async (app, { shop, inventory, gifts, guards }) => {
  const security = [{ bearer: [] }];
  const preHandler = guards.role("admin");
  const tags = ["admin"];

  await app.register(
    keyedDefinitionRoutes({
      path: "/v1/admin/shop-items",
      noun: "shop item",
      schemas: { create: CreateShopItem, update: UpdateShopItem, view: ShopItem },
      summaries: { list: "Every shop item, on sale or not" },
      list: () => shop.list(),
      save: (actor, meta, input, mode) => shop.save(actor, meta, input, mode),
    }),
    { guards },
  );

  await app.register(
    keyedDefinitionRoutes({
      path: "/v1/admin/gifts",
      noun: "gift",
      schemas: { create: CreateGift, update: UpdateGift, view: Gift },
      list: () => gifts.list(),
      save: (actor, meta, input, mode) => gifts.save(actor, meta, input, mode),
    }),
    { guards },
  );

  app.get(
    "/v1/admin/users/:id/inventory",
    {
      preHandler,
      schema: {
        tags,
        security,
        summary: "A player's inventory",
        params: IdParams,
        querystring: InventoryQuery,
        response: { 200: Type.Object({ items: Type.Array(InventoryEntry) }), ...problems(401, 403, 404) },
      },
    },
    async (request) => ({ items: await inventory.inventory(request.params.id, request.query, "admin") }),
  );

  app.post(
    "/v1/admin/users/:id/inventory",
    {
      preHandler,
      schema: {
        tags,
        security,
        summary: "Give a player items (free, idempotent, audited)",
        params: IdParams,
        body: GrantBody,
        response: { 200: GrantResult, 201: GrantResult, ...problems(401, 403, 404, 409, 422) },
      },
    },
    async (request, reply) => {
      const result = await shop.grant(
        actorOf(currentUser(request)),
        requestMeta(request),
        request.params.id,
        request.body,
      );
      return reply.status(result.duplicate ? 200 : 201).send(result);
    },
  );

  app.get(
    "/v1/admin/users/:id/purchases",
    {
      preHandler,
      schema: {
        tags,
        security,
        summary: "A player's purchases, newest first",
        params: IdParams,
        querystring: PurchasesQuery,
        response: { 200: Page(Purchase), ...problems(401, 403, 404) },
      },
    },
    async (request) => shop.history(request.params.id, request.query, "admin"),
  );

  app.post(
    "/v1/admin/purchases/:id/refund",
    {
      preHandler,
      schema: {
        tags,
        security,
        summary: "Refund a purchase: the price back, the items out of the inventory (idempotent, audited)",
        params: IdParams,
        body: RefundBody,
        response: { 200: RefundResult, 201: RefundResult, ...problems(401, 403, 404, 409) },
      },
    },
    async (request, reply) => {
      const result = await shop.refund(
        actorOf(currentUser(request)),
        requestMeta(request),
        request.params.id,
        request.body.reason,
      );
      return reply.status(result.duplicate ? 200 : 201).send(result);
    },
  );
};
