/**
 * The rank index in Redis, shared by every instance of Ludus.
 *
 * One sorted set per list, `${prefix}rank:${list}`, in which every member has the score 0 and is
 * the key encoded as 32 bytes that sort, byte by byte, exactly as `compareKeys` orders keys. Redis
 * orders members of equal score lexicographically (memcmp), so the set's order is the rank order,
 * and a rank, a page or a count is one O(log n) command:
 *
 *   bytes  0–7   the score's IEEE-754 bits, turned so that a higher score gives smaller bytes: a
 *                negative score's bits as they are (sign bit 1; a more negative score has larger
 *                bits), a non-negative score's bits with all but the sign bit flipped (sign bit 0;
 *                a larger score has smaller bits). −0 is stored as 0, so it ties with 0 as in
 *                `compareKeys`.
 *   bytes  8–15  reachedAt as a signed 64-bit big-endian integer with its sign bit flipped, so that
 *                earlier (smaller, even negative) instants give smaller bytes.
 *   bytes 16–31  the 16 bytes of the user id (a lowercase UUID; its string order is its byte order).
 *
 * A Redis sorted-set score (a double) could hold the score but not the tie-breaks, and ordering by
 * score then member would still need the member to carry reachedAt; the lexicographic encoding
 * carries everything exactly and decodes back to the key, so nothing else is stored.
 *
 * rank(key) is `ZLEXCOUNT set - (member`: the members strictly before the key's bytes, which is the
 * rank whether or not the key is in the set. A move (`previous` → `next`) is ZREM + ZADD in one
 * Lua script (one MULTI per chunk of upsertMany), so no client ever sees the entry twice or not at
 * all.
 */
import { Redis } from "ioredis";
import type { RankIndex, RankKey } from "./rank-index.ts";

/** Bytes of an encoded key. */
export const ENCODED_KEY_BYTES = 32;

/** The value of each lowercase hex digit's char code, −1 for every other code below 128. */
const NIBBLE = new Int8Array(128).fill(-1);
for (let i = 0; i < 16; i++) NIBBLE["0123456789abcdef".charCodeAt(i)] = i;
/** Positions of the dashes in a UUID string. */
const DASHES = [8, 13, 18, 23];
const TWO_32 = 2 ** 32;
/** ZLEXCOUNT's exclusive bound marker, `(`. */
const EXCLUSIVE = Buffer.from("(");
/** Changes per ZADD/ZREM (and MULTI) in upsertMany. */
const CHUNK = 1000;
/** Chunks in flight at once in upsertMany, so a rebuild of millions does not queue them all. */
const IN_FLIGHT = 16;

/** Writes the 16 bytes of a lowercase UUID at `at`; false if `uuid` is not one. */
function writeUuid(uuid: unknown, out: Buffer, at: number): boolean {
  if (typeof uuid !== "string" || uuid.length !== 36) return false;
  for (const dash of DASHES) if (uuid.charCodeAt(dash) !== 0x2d) return false;
  let i = 0;
  for (let b = at; b < at + 16; b++) {
    if (i === 8 || i === 13 || i === 18 || i === 23) i++;
    const high = NIBBLE[uuid.charCodeAt(i)] ?? -1;
    const low = NIBBLE[uuid.charCodeAt(i + 1)] ?? -1;
    if (high < 0 || low < 0) return false;
    out[b] = (high << 4) | low;
    i += 2;
  }
  return true;
}

/**
 * The 32 bytes of a key, sorting as `compareKeys` does. Throws a TypeError (as the in-process index
 * does) on a key that cannot be
 * ordered or encoded: a NaN score (±Infinity are fine), a reachedAt that is not a safe integer, a
 * userId that is not a lowercase UUID.
 */
export function encodeKey(key: RankKey): Buffer {
  const { score, reachedAt, userId } = key;
  if (typeof score !== "number" || Number.isNaN(score)) {
    throw new TypeError(`rank key score must be a number, not ${String(score)}`);
  }
  if (!Number.isSafeInteger(reachedAt)) {
    throw new TypeError(`rank key reachedAt must be an integer (ms), not ${String(reachedAt)}`);
  }
  const out = Buffer.allocUnsafe(ENCODED_KEY_BYTES);
  out.writeDoubleBE(score === 0 ? 0 : score, 0);
  if ((out[0] as number) < 0x80) {
    // Non-negative: flip all but the sign bit, so larger scores sort first.
    out[0] = (out[0] as number) ^ 0x7f;
    for (let i = 1; i < 8; i++) out[i] = (out[i] as number) ^ 0xff;
  }
  const high = Math.floor(reachedAt / TWO_32);
  out.writeInt32BE(high, 8);
  out.writeUInt32BE(reachedAt - high * TWO_32, 12);
  out[8] = (out[8] as number) ^ 0x80;
  if (!writeUuid(userId, out, 16)) {
    throw new TypeError(`rank key userId must be a lowercase UUID, not ${JSON.stringify(userId)}`);
  }
  return out;
}

/** The key that `encodeKey` made these bytes from (−0 comes back as 0). */
export function decodeKey(bytes: Buffer): RankKey {
  if (bytes.length !== ENCODED_KEY_BYTES) {
    throw new RangeError(`an encoded rank key has ${ENCODED_KEY_BYTES} bytes, not ${bytes.length}`);
  }
  const scoreBytes = Buffer.from(bytes.subarray(0, 8));
  if ((scoreBytes[0] as number) < 0x80) {
    scoreBytes[0] = (scoreBytes[0] as number) ^ 0x7f;
    for (let i = 1; i < 8; i++) scoreBytes[i] = (scoreBytes[i] as number) ^ 0xff;
  }
  const high = (bytes.readUInt32BE(8) ^ 0x80000000) | 0;
  const hex = bytes.toString("hex", 16, 32);
  return {
    score: scoreBytes.readDoubleBE(0),
    reachedAt: high * TWO_32 + bytes.readUInt32BE(12),
    userId: `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`,
  };
}

/** A move: ZREM of the previous member and ZADD of the next, atomic as any script. */
const MOVE = `redis.call('ZREM', KEYS[1], ARGV[1])
return redis.call('ZADD', KEYS[1], 0, ARGV[2])`;

interface MoveCommand {
  ludusRankMove(key: string, previous: Buffer, next: Buffer): Promise<number>;
}

export interface RedisIndexOptions {
  /** Where Redis is, e.g. `redis://127.0.0.1:6379`; ignored when `redis` is given. */
  url?: string;
  /** A client to use instead of opening one; `close()` leaves it open (its owner quits it). */
  redis?: Redis;
  /** Put before every key name: `${prefix}rank:${list}`. Default "ludus:". */
  prefix?: string;
}

/** One change of upsertMany reduced to what it does to the set. */
interface NetChange {
  remove: Buffer[];
  add: Buffer[];
}

/**
 * The net effect of changes applied in order to a set: for each member, its last operation wins
 * (added → present, removed → absent). The two lists are disjoint, so applying them in either
 * order gives the same set as applying the changes one by one.
 */
function netChange(changes: readonly { next: RankKey; previous?: RankKey | undefined }[]): NetChange {
  // Only additions (a load or a rebuild): ZADD of a member twice keeps one, nothing to net out.
  if (changes.every((c) => c.previous === undefined)) {
    return { remove: [], add: changes.map((c) => encodeKey(c.next)) };
  }
  const last = new Map<string, { member: Buffer; present: boolean }>();
  for (const { next, previous } of changes) {
    if (previous !== undefined) {
      const member = encodeKey(previous);
      last.set(member.toString("latin1"), { member, present: false });
    }
    const member = encodeKey(next);
    last.set(member.toString("latin1"), { member, present: true });
  }
  const net: NetChange = { remove: [], add: [] };
  for (const { member, present } of last.values()) (present ? net.add : net.remove).push(member);
  return net;
}

function addArgs(members: Buffer[]): (string | Buffer)[] {
  const args: (string | Buffer)[] = [];
  for (const member of members) args.push("0", member);
  return args;
}

function checkExec(results: [error: Error | null, result: unknown][] | null): void {
  if (results === null) throw new Error("Redis discarded a rank index transaction");
  for (const [error] of results) if (error) throw error;
}

export class RedisIndex implements RankIndex {
  readonly #redis: Redis & MoveCommand;
  readonly #ownsClient: boolean;
  readonly #prefix: string;

  constructor(options: RedisIndexOptions = {}) {
    this.#prefix = options.prefix ?? "ludus:";
    const redis = options.redis ?? new Redis(options.url ?? "redis://127.0.0.1:6379");
    this.#ownsClient = options.redis === undefined;
    // EVALSHA (EVAL the first time on each server), one round trip and one command for a move.
    if (!("ludusRankMove" in redis)) redis.defineCommand("ludusRankMove", { numberOfKeys: 1, lua: MOVE });
    this.#redis = redis as Redis & MoveCommand;
  }

  /** The Redis key of a list. */
  keyOf(list: string): string {
    return `${this.#prefix}rank:${list}`;
  }

  async upsert(list: string, next: RankKey, previous?: RankKey): Promise<void> {
    const key = this.keyOf(list);
    const member = encodeKey(next);
    if (previous === undefined) {
      await this.#redis.zadd(key, 0, member);
      return;
    }
    const old = encodeKey(previous);
    if (old.equals(member)) {
      await this.#redis.zadd(key, 0, member);
      return;
    }
    await this.#redis.ludusRankMove(key, old, member);
  }

  async upsertMany(list: string, changes: { next: RankKey; previous?: RankKey }[]): Promise<void> {
    const key = this.keyOf(list);
    // Encode everything first, so a bad key fails the call before anything is written.
    const chunks: NetChange[] = [];
    for (let i = 0; i < changes.length; i += CHUNK) chunks.push(netChange(changes.slice(i, i + CHUNK)));
    // Chunks go out in order on one connection, so Redis applies them in order; each is atomic.
    let inFlight: Promise<void>[] = [];
    for (const { remove, add } of chunks) {
      let sent: Promise<unknown>;
      if (remove.length === 0) sent = this.#redis.zadd(key, ...addArgs(add));
      else if (add.length === 0) sent = this.#redis.zrem(key, ...remove);
      else {
        sent = this.#redis
          .multi()
          .zrem(key, ...remove)
          .zadd(key, ...addArgs(add))
          .exec()
          .then(checkExec);
      }
      inFlight.push(sent.then(() => undefined));
      if (inFlight.length >= IN_FLIGHT) {
        await Promise.all(inFlight);
        inFlight = [];
      }
    }
    await Promise.all(inFlight);
  }

  async remove(list: string, key: RankKey): Promise<void> {
    await this.#redis.zrem(this.keyOf(list), encodeKey(key));
  }

  async rank(list: string, key: RankKey): Promise<number> {
    return this.#redis.zlexcount(this.keyOf(list), "-", Buffer.concat([EXCLUSIVE, encodeKey(key)]));
  }

  async range(list: string, offset: number, limit: number): Promise<RankKey[]> {
    if (!Number.isSafeInteger(offset) || offset < 0) {
      throw new RangeError(`range offset must be an integer >= 0, not ${offset}`);
    }
    if (!Number.isSafeInteger(limit) || limit < 0) {
      throw new RangeError(`range limit must be an integer >= 0, not ${limit}`);
    }
    if (limit === 0) return [];
    const members = await this.#redis.zrangeBuffer(this.keyOf(list), offset, String(offset + limit - 1));
    return members.map(decodeKey);
  }

  async size(list: string): Promise<number> {
    return this.#redis.zcard(this.keyOf(list));
  }

  async isBuilt(): Promise<boolean> {
    return (await this.#redis.exists(`${this.#prefix}rank-built`)) === 1;
  }

  async setBuilt(built: boolean): Promise<void> {
    if (built) await this.#redis.set(`${this.#prefix}rank-built`, new Date().toISOString());
    else await this.#redis.del(`${this.#prefix}rank-built`);
  }

  async drop(list: string): Promise<void> {
    // UNLINK frees a large set in the background instead of blocking Redis while it does.
    await this.#redis.unlink(this.keyOf(list));
  }

  async close(): Promise<void> {
    if (this.#ownsClient && this.#redis.status !== "end") await this.#redis.quit();
  }
}
