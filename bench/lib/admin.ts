/**
 * The admin API as a benchmark uses it: log the configured admin in, create API keys, switch
 * achievements, streaks and quests on and off (PATCH …/{key} {"active": …}; the definitions cache
 * reloads on the change).
 */
import type { Ludus } from "./ludus.ts";

/** The kinds of definition a benchmark switches, with their admin routes. */
export const SUBSYSTEMS = ["achievements", "streaks", "quests"] as const;
export type Subsystem = (typeof SUBSYSTEMS)[number];

export interface Definition {
  key: string;
  active: boolean;
}

async function json<T>(response: Response, expected: number, what: string): Promise<T> {
  const text = await response.text();
  if (response.status !== expected) throw new Error(`${what}: ${response.status} ${text}`);
  return JSON.parse(text) as T;
}

export class AdminApi {
  private constructor(
    private readonly url: string,
    private readonly token: string,
  ) {}

  /** Logs the admin configured through LUDUS_ADMIN_EMAIL / LUDUS_ADMIN_PASSWORD in. */
  static async login(ludus: Ludus): Promise<AdminApi> {
    const admin = ludus.config.admin;
    if (admin === undefined) throw new Error("no admin configured");
    const login = await json<{ tokens: { accessToken: string } }>(
      await fetch(`${ludus.server.url}/v1/auth/login`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ login: admin.email, password: admin.password }),
      }),
      200,
      "admin login",
    );
    return new AdminApi(ludus.server.url, login.tokens.accessToken);
  }

  private async call<T>(method: string, path: string, expected: number, body?: unknown): Promise<T> {
    const response = await fetch(`${this.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${this.token}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return json<T>(response, expected, `${method} ${path}`);
  }

  /** An API key for app backends with the given scopes; returns the key itself. */
  async createApiKey(name: string, scopes: string[]): Promise<string> {
    const created = await this.call<{ key: string }>("POST", "/v1/admin/api-keys", 201, { name, scopes });
    return created.key;
  }

  /** GET /v1/admin/{achievements,streaks,quests}: every definition of the kind, active or not. */
  async list(kind: Subsystem): Promise<Definition[]> {
    const page = await this.call<{ items: Definition[] }>("GET", `/v1/admin/${kind}`, 200);
    return page.items.map((d) => ({ key: d.key, active: d.active }));
  }

  /** PATCH /v1/admin/{kind}/{key} {"active": …}. */
  async setActive(kind: Subsystem, key: string, active: boolean): Promise<void> {
    const saved = await this.call<Definition>("PATCH", `/v1/admin/${kind}/${encodeURIComponent(key)}`, 200, {
      active,
    });
    if (saved.active !== active) throw new Error(`${kind} ${key}: still active=${saved.active}`);
  }
}
