import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import { DefinitionKey } from "../engine/schemas.ts";
import { currentUser, requestMeta, type Guards } from "../identity/guards.ts";
import { Page, problems } from "../platform/http/schemas.ts";
import type { GiftsService } from "./gifts.service.ts";
import { WELCOME_GIFT } from "./gifts.service.ts";
import type { InventoryService } from "./inventory.service.ts";
import {
  Boosts,
  CatalogueItem,
  CatalogueQuery,
  ClaimResult,
  InventoryEntry,
  InventoryQuery,
  ItemParams,
  MyGift,
  Purchase,
  PurchaseBody,
  PurchaseResult,
  PurchasesQuery,
  UnequipResult,
  UseBody,
  UseResult,
} from "./shop.schemas.ts";
import type { ShopService } from "./shop.service.ts";

/** The player's side of the economy: the shop, purchases, inventory, boosts and gifts. */
export const shopRoutes: FastifyPluginAsyncTypebox<{
  shop: ShopService;
  inventory: InventoryService;
  gifts: GiftsService;
  guards: Guards;
}> = async (app, { shop, inventory, gifts, guards }) => {
  const security = [{ bearer: [] }];
  const preHandler = guards.user;

  app.get(
    "/v1/shop",
    {
      preHandler,
      schema: {
        tags: ["shop"],
        security,
        summary: "Items on sale now, with what I hold, may still buy and can afford",
        querystring: CatalogueQuery,
        response: { 200: Page(CatalogueItem), ...problems(401, 403) },
      },
    },
    async (request) => shop.catalogue(currentUser(request).userId, request.query),
  );

  app.get(
    "/v1/shop/:itemId",
    {
      preHandler,
      schema: {
        tags: ["shop"],
        security,
        summary: "One item on sale (by id or key)",
        params: ItemParams,
        response: { 200: CatalogueItem, ...problems(401, 403, 404) },
      },
    },
    async (request) => shop.item(currentUser(request).userId, request.params.itemId),
  );

  app.post(
    "/v1/shop/:itemId/purchase",
    {
      preHandler,
      schema: {
        tags: ["shop"],
        security,
        summary: "Buy an item (idempotent): never an overdraft, never past the stock or my limit",
        params: ItemParams,
        body: PurchaseBody,
        response: { 200: PurchaseResult, 201: PurchaseResult, ...problems(401, 403, 404, 409, 422) },
      },
    },
    async (request, reply) => {
      const result = await shop.purchase(
        currentUser(request).userId,
        request.params.itemId,
        request.body,
        requestMeta(request),
      );
      return reply.status(result.duplicate ? 200 : 201).send(result);
    },
  );

  app.get(
    "/v1/me/purchases",
    {
      preHandler,
      schema: {
        tags: ["shop"],
        security,
        summary: "My purchases, newest first",
        querystring: PurchasesQuery,
        response: { 200: Page(Purchase), ...problems(401, 403) },
      },
    },
    async (request) => shop.history(currentUser(request).userId, request.query),
  );

  app.get(
    "/v1/me/inventory",
    {
      preHandler,
      schema: {
        tags: ["shop"],
        security,
        summary: "What I hold",
        querystring: InventoryQuery,
        response: { 200: Type.Object({ items: Type.Array(InventoryEntry) }), ...problems(401, 403) },
      },
    },
    async (request) => ({ items: await inventory.inventory(currentUser(request).userId, request.query) }),
  );

  app.post(
    "/v1/me/inventory/:itemId/use",
    {
      preHandler,
      schema: {
        tags: ["shop"],
        security,
        summary: "Use an item I hold (idempotent): a boost, protection, freeze, recipe pack, cosmetic…",
        params: ItemParams,
        body: UseBody,
        response: { 200: UseResult, 201: UseResult, ...problems(401, 403, 404, 409, 422) },
      },
    },
    async (request, reply) => {
      const result = await inventory.use(currentUser(request).userId, request.params.itemId, request.body);
      return reply.status(result.duplicate ? 200 : 201).send(result);
    },
  );

  app.post(
    "/v1/me/inventory/:itemId/unequip",
    {
      preHandler,
      schema: {
        tags: ["shop"],
        security,
        summary: "Take off a cosmetic",
        params: ItemParams,
        response: { 200: UnequipResult, ...problems(401, 403, 404, 409) },
      },
    },
    async (request) => inventory.unequip(currentUser(request).userId, request.params.itemId),
  );

  app.get(
    "/v1/me/boosts",
    {
      preHandler,
      schema: {
        tags: ["shop"],
        security,
        summary: "My boosts running now, with time left",
        response: { 200: Boosts, ...problems(401, 403) },
      },
    },
    async (request) => inventory.boosts(currentUser(request).userId),
  );

  app.get(
    "/v1/me/gifts",
    {
      preHandler,
      schema: {
        tags: ["shop"],
        security,
        summary: "Gifts I can claim, and those I claimed",
        response: { 200: Type.Object({ items: Type.Array(MyGift) }), ...problems(401, 403) },
      },
    },
    async (request) => ({ items: await gifts.mine(currentUser(request).userId) }),
  );

  const claimSchema = (summary: string, params?: typeof GiftParams) => ({
    tags: ["shop"],
    security,
    summary,
    ...(params === undefined ? {} : { params }),
    response: { 200: ClaimResult, 201: ClaimResult, ...problems(401, 403, 404, 409) },
  });

  app.post(
    "/v1/me/gift/claim",
    {
      preHandler,
      schema: claimSchema("Claim my welcome gift (once; claiming again answers the first claim)"),
    },
    async (request, reply) => {
      const result = await gifts.claim(currentUser(request).userId, WELCOME_GIFT);
      return reply.status(result.duplicate ? 200 : 201).send(result);
    },
  );

  app.post(
    "/v1/me/gifts/:key/claim",
    {
      preHandler,
      schema: claimSchema("Claim a gift (once; claiming again answers the first claim)", GiftParams),
    },
    async (request, reply) => {
      const { key } = request.params as { key: string };
      const result = await gifts.claim(currentUser(request).userId, key);
      return reply.status(result.duplicate ? 200 : 201).send(result);
    },
  );
};

const GiftParams = Type.Object({ key: DefinitionKey }, { additionalProperties: false });
