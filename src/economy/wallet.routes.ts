import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import type { AdminUsersService } from "../identity/admin.service.ts";
import { actorOf, currentUser, requestMeta, type Guards } from "../identity/guards.ts";
import { IdParams, Page, PageQuery, problems, Timestamp } from "../platform/http/schemas.ts";
import type { WalletService } from "./wallet.service.ts";
import { LIMITS } from "../platform/limits.ts";

const Wallet = Type.Object({
  currency: Type.String(),
  balance: Type.Integer(),
  lifetimeEarned: Type.Integer(),
  updatedAt: Timestamp,
});

const LedgerEntry = Type.Object({
  id: Type.String(),
  createdAt: Timestamp,
  currency: Type.String(),
  type: Type.Enum(["earn", "spend", "reward", "bonus", "purchase", "adjust", "refund"]),
  amount: Type.Integer(),
  balanceAfter: Type.Integer(),
  reason: Type.String(),
  source: Type.String(),
  reference: Type.Union([Type.String(), Type.Null()]),
  metadata: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
});

const LedgerQuery = Type.Object(
  { currency: Type.Optional(Type.String({ pattern: "^[a-z][a-z0-9_]{1,31}$" })), ...PageQuery },
  { additionalProperties: false },
);

const AdjustmentBody = Type.Object(
  {
    currency: Type.String({ pattern: "^[a-z][a-z0-9_]{1,31}$" }),
    amount: Type.Integer({ minimum: -LIMITS.adjustment, maximum: LIMITS.adjustment, not: { const: 0 } }),
    reason: Type.String({ minLength: 1, maxLength: 500 }),
    idempotencyKey: Type.String({ minLength: 1, maxLength: 200 }),
  },
  { additionalProperties: false },
);

const AdjustmentResult = Type.Object({
  entryId: Type.Integer(),
  currency: Type.String(),
  amount: Type.Integer(),
  balance: Type.Integer(),
  duplicate: Type.Boolean(),
});

export const walletRoutes: FastifyPluginAsyncTypebox<{
  wallets: WalletService;
  guards: Guards;
  adminUsers: AdminUsersService;
}> = async (app, { wallets, guards, adminUsers }) => {
  const security = [{ bearer: [] }];

  app.get(
    "/v1/me/wallet",
    {
      preHandler: guards.user,
      schema: {
        tags: ["economy"],
        security,
        summary: "My balances",
        response: { 200: Type.Object({ items: Type.Array(Wallet) }), ...problems(401, 403) },
      },
    },
    async (request) => ({ items: await wallets.wallets(currentUser(request).userId) }),
  );

  app.get(
    "/v1/me/ledger",
    {
      preHandler: guards.user,
      schema: {
        tags: ["economy"],
        security,
        summary: "Every change of my balances, newest first",
        querystring: LedgerQuery,
        response: { 200: Page(LedgerEntry), ...problems(401, 403) },
      },
    },
    async (request) => wallets.ledger(currentUser(request).userId, request.query),
  );

  app.get(
    "/v1/admin/users/:id/ledger",
    {
      preHandler: guards.role("admin"),
      schema: {
        tags: ["admin"],
        security,
        summary: "A player's ledger, newest first",
        params: IdParams,
        querystring: LedgerQuery,
        response: { 200: Page(LedgerEntry), ...problems(401, 403, 404) },
      },
    },
    async (request) => {
      const page = await wallets.ledger(request.params.id, request.query); // a bad cursor is a 400 first
      await adminUsers.get(request.params.id); // then unknown players are a 404
      return page;
    },
  );

  app.post(
    "/v1/admin/users/:id/adjustments",
    {
      preHandler: guards.role("admin"),
      schema: {
        tags: ["admin"],
        security,
        summary: "Correct a player's balance (idempotent, audited)",
        params: IdParams,
        body: AdjustmentBody,
        response: { 200: AdjustmentResult, 201: AdjustmentResult, ...problems(401, 403, 404, 409, 422) },
      },
    },
    async (request, reply) => {
      const result = await wallets.adjust(
        actorOf(currentUser(request)),
        requestMeta(request),
        request.params.id,
        request.body,
      );
      return reply.status(result.duplicate ? 200 : 201).send(result);
    },
  );
};
