import { createHmac } from "node:crypto";
import { constantTimeEqual, randomToken } from "../../platform/crypto.ts";

/** Headers of every webhook request. */
export const SIGNATURE_HEADER = "ludus-signature";
export const TIMESTAMP_HEADER = "ludus-timestamp";

export const newSecret = (): string => `whsec_${randomToken(32)}`;

/**
 * The signature of a delivery: HMAC-SHA256 with the endpoint's secret over `${timestamp}.${body}`
 * (timestamp in Unix seconds, body the exact bytes sent), hex, as `v1=<hex>`.
 */
export function sign(secret: string, timestamp: number, body: string): string {
  return `v1=${createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex")}`;
}

/**
 * What a receiver does: recompute the signature and compare in constant time, and refuse a
 * timestamp further than `toleranceSeconds` from its own clock (a replayed old request).
 * The header may list several signatures separated by commas (during a secret rotation).
 */
export function verify(
  secret: string,
  headers: { signature: string | undefined; timestamp: string | undefined },
  body: string,
  now: Date = new Date(),
  toleranceSeconds = 300,
): boolean {
  if (headers.signature === undefined || headers.timestamp === undefined) return false;
  if (!/^\d{1,12}$/.test(headers.timestamp)) return false;
  const timestamp = Number(headers.timestamp);
  if (Math.abs(now.getTime() / 1000 - timestamp) > toleranceSeconds) return false;
  const expected = Buffer.from(sign(secret, timestamp, body));
  return headers.signature
    .split(",")
    .map((s) => s.trim())
    .some((s) => constantTimeEqual(Buffer.from(s), expected));
}
