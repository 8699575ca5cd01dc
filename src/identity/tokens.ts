import { SignJWT, jwtVerify, errors } from "jose";
import type { Clock } from "../platform/clock.ts";
import { AppError } from "../platform/http/errors.ts";

export interface AccessClaims {
  userId: string;
  sessionId: string;
}

const ALGORITHM = "HS256";
const ISSUER = "ludus";
const AUDIENCE = "ludus-api";
/** Stream tickets: accepted only by the realtime stream routes, which browsers open by URL. */
const TICKET_AUDIENCE = "ludus-stream";

/** Signs and checks short-lived access tokens. The algorithm is pinned: tokens naming another are refused. */
export class AccessTokens {
  private readonly key: Uint8Array;

  constructor(
    secret: string,
    readonly ttlSeconds: number,
    private readonly clock: Clock,
  ) {
    this.key = new TextEncoder().encode(secret);
  }

  async sign(claims: AccessClaims, audience = AUDIENCE, ttlSeconds = this.ttlSeconds): Promise<string> {
    const now = Math.floor(this.clock.now().getTime() / 1000);
    return new SignJWT({ sid: claims.sessionId })
      .setProtectedHeader({ alg: ALGORITHM, typ: "JWT" })
      .setSubject(claims.userId)
      .setIssuer(ISSUER)
      .setAudience(audience)
      .setIssuedAt(now)
      .setExpirationTime(now + ttlSeconds)
      .sign(this.key);
  }

  /**
   * A short-lived token that only opens the realtime stream (`?ticket=`): browsers' EventSource
   * and WebSocket cannot send an Authorization header, and a URL ends up in logs, so the token in
   * it must not be an access token.
   */
  signStreamTicket(claims: AccessClaims, ttlSeconds: number): Promise<string> {
    return this.sign(claims, TICKET_AUDIENCE, ttlSeconds);
  }

  verifyStreamTicket(token: string): Promise<AccessClaims> {
    return this.verify(token, TICKET_AUDIENCE);
  }

  async verify(token: string, audience = AUDIENCE): Promise<AccessClaims> {
    try {
      const { payload } = await jwtVerify(token, this.key, {
        algorithms: [ALGORITHM],
        issuer: ISSUER,
        audience,
        // A token without an expiry would never expire: refused, whoever signed it.
        requiredClaims: ["exp", "iat", "sub"],
        currentDate: this.clock.now(),
      });
      if (typeof payload.sub !== "string" || typeof payload.sid !== "string") {
        throw new AppError("auth.invalid_token", "The access token is malformed");
      }
      return { userId: payload.sub, sessionId: payload.sid };
    } catch (error) {
      if (error instanceof AppError) throw error;
      if (error instanceof errors.JWTExpired)
        throw new AppError("auth.invalid_token", "The access token has expired");
      throw new AppError("auth.invalid_token", "The access token is not valid");
    }
  }
}
