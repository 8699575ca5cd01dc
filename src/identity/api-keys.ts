import { audit, type AuditActor, type RequestMeta } from "../audit/audit.service.ts";
import type { Clock } from "../platform/clock.ts";
import { randomToken, sha256 } from "../platform/crypto.ts";
import type { Database, Tx } from "../platform/db/database.ts";
import { AppError, notFound } from "../platform/http/errors.ts";
import type { Listener } from "../platform/db/listener.ts";

/** What an API key may do. Each scope guards a family of app-backend routes. */
export const API_KEY_SCOPES = ["users:read", "events:write", "scores:write"] as const;
export type ApiKeyScope = (typeof API_KEY_SCOPES)[number];

export const API_KEY_PREFIX = "ludus_";

interface ApiKeyRow {
  id: string;
  name: string;
  prefix: string;
  scopes: string[];
  created_by: string | null;
  created_at: Date;
  expires_at: Date | null;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

function view(k: ApiKeyRow) {
  const iso = (d: Date | null) => d?.toISOString() ?? null;
  return {
    id: k.id,
    name: k.name,
    prefix: k.prefix,
    scopes: k.scopes,
    createdBy: k.created_by,
    createdAt: k.created_at.toISOString(),
    expiresAt: iso(k.expires_at),
    lastUsedAt: iso(k.last_used_at),
    revokedAt: iso(k.revoked_at),
  };
}

/** The NOTIFY payload that tells every instance to forget the API keys it has cached. */
export const API_KEYS_CHANGED = "api_keys";
const CACHE_MS = 10_000;
/** How long a verified key is cached while the LISTEN connection is down (revocations unheard). */
const UNGUARDED_CACHE_MS = 1000;

/** Keys for app backends: `ludus_<prefix>_<secret>`, shown once, stored as a SHA-256 hash. */
export class ApiKeyService {
  // Verified keys, so that an app backend's requests do not each cost a database transaction.
  // Revocation clears it here at once and on other instances through NOTIFY (the TTL bounds the
  // rest, such as an expiry passing).
  private readonly cache = new Map<string, { id: string; scopes: string[]; until: number; at: number }>();
  /** The instance's listener once attached: while it is down, entries live `UNGUARDED_CACHE_MS`. */
  private guard: Listener | undefined;

  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly notifyChannel: string,
  ) {}

  /** Bumped by every clear: a lookup that began before one does not fill the cache after it. */
  private generation = 0;

  clearCache(): void {
    this.generation += 1;
    this.cache.clear();
  }

  /**
   * Hears revocations made on any instance (API_KEYS_CHANGED on the channel); the cache is cleared
   * whenever the connection is lost or back, and held only briefly while it is down.
   */
  attach(listener: Listener): void {
    this.guard = listener;
    listener.on(this.notifyChannel, (payload) => {
      if (payload === API_KEYS_CHANGED) this.clearCache();
    });
    listener.onConnect(() => this.clearCache());
    listener.onDisconnect(() => this.clearCache());
  }

  private fresh(entry: { until: number; at: number }, now: number): boolean {
    if (entry.until <= now) return false;
    const unguarded = this.guard !== undefined && !this.guard.connected;
    return !unguarded || performance.now() - entry.at <= UNGUARDED_CACHE_MS;
  }

  async create(
    actor: AuditActor,
    meta: RequestMeta,
    input: { name: string; scopes: ApiKeyScope[]; expiresAt?: string },
  ) {
    if (input.expiresAt !== undefined && !(Date.parse(input.expiresAt) > this.clock.now().getTime())) {
      throw new AppError("validation.failed", "The key would be expired already", {
        errors: [{ path: "body/expiresAt", message: "must be in the future" }],
      });
    }
    const prefix = randomToken(6).replace(/[-_]/g, "x");
    const key = `${API_KEY_PREFIX}${prefix}_${randomToken(32)}`;
    return this.db.asSystem(async (tx) => {
      const row = await tx.one<ApiKeyRow>(
        `INSERT INTO api_keys (name, prefix, key_hash, scopes, created_by, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *`,
        [
          input.name,
          prefix,
          sha256(key),
          [...new Set(input.scopes)],
          actor.type === "user" ? actor.id : null,
          this.clock.now(),
          input.expiresAt ?? null,
        ],
      );
      await audit(tx, actor, meta, {
        action: "api_key.created",
        resourceType: "api_key",
        resourceId: row.id,
        after: { name: row.name, scopes: row.scopes, prefix },
      });
      return { ...view(row), key };
    });
  }

  async list() {
    const rows = await this.db.asSystem((tx) =>
      tx.rows<ApiKeyRow>(`SELECT * FROM api_keys ORDER BY created_at DESC LIMIT 1000`),
    );
    return rows.map(view);
  }

  async revoke(actor: AuditActor, meta: RequestMeta, id: string) {
    return this.db
      .asSystem(async (tx) => {
        const row = await tx.maybeOne<ApiKeyRow>(
          `UPDATE api_keys SET revoked_at = coalesce(revoked_at, $2) WHERE id = $1 RETURNING *`,
          [id, this.clock.now()],
        );
        if (row === undefined) throw notFound("API key");
        await audit(tx, actor, meta, { action: "api_key.revoked", resourceType: "api_key", resourceId: id });
        await tx.exec(`SELECT pg_notify($1, $2)`, [this.notifyChannel, API_KEYS_CHANGED]);
        return view(row);
      })
      .finally(() => this.clearCache());
  }

  /** The key's id and scopes if it is valid now; records its use at most once a minute. */
  async authenticate(key: string): Promise<{ id: string; scopes: string[] } | undefined> {
    const now = this.clock.now();
    const digest = sha256(key).toString("base64url");
    const cached = this.cache.get(digest);
    const generation = this.generation;
    if (cached !== undefined && this.fresh(cached, now.getTime()))
      return { id: cached.id, scopes: cached.scopes };
    const found = await this.db.asSystem(async (tx: Tx) => {
      const row = await tx.maybeOne<{
        id: string;
        scopes: string[];
        last_used_at: Date | null;
        expires_at: Date | null;
      }>(
        `SELECT id, scopes, last_used_at, expires_at FROM api_keys
         WHERE key_hash = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2)`,
        [sha256(key), now],
      );
      if (row === undefined) return undefined;
      if (row.last_used_at === null || now.getTime() - row.last_used_at.getTime() > 60_000) {
        await tx.exec(`UPDATE api_keys SET last_used_at = $2 WHERE id = $1`, [row.id, now]);
      }
      return { id: row.id, scopes: row.scopes, expiresAt: row.expires_at };
    });
    if (found === undefined) return undefined;
    const until = Math.min(now.getTime() + CACHE_MS, found.expiresAt?.getTime() ?? Infinity);
    if (generation !== this.generation) return { id: found.id, scopes: found.scopes };
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(digest, { id: found.id, scopes: found.scopes, until, at: performance.now() });
    return { id: found.id, scopes: found.scopes };
  }
}
