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
 * rank whether or not the key is in the set. Every write (a move `previous` → `next`, or a chunk
 * of upsertMany) is one Lua script, so no client ever sees an entry twice or not at all.
 *
 * Reads are scripts too: they refuse a set that is not marked built (answered with
 * RankIndexNotBuilt, and Ludus reads PostgreSQL instead), so that when one instance could not write
 * a change, or a rebuild is under way, no instance serves ranks that lack it.
 *
 * A rebuild never touches the live sets: it takes a lock, fills new copies from PostgreSQL while
 * every instance keeps writing the live sets and, as long as the lock exists, a journal of its
 * writes; then it replays the journal onto the copies and swaps them in, in one script. Replaying
 * is right whatever the copy saw of a change: each change removes the member the one before added.
 */
import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import {
  RankIndexNotBuilt,
  RebuildInterrupted,
  type RankIndex,
  type RankKey,
  type SharedRebuild,
} from "./rank-index.ts";

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
/** Changes per write script in upsertMany and per fill step of a rebuild. */
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

/*
 * Key names, under the prefix: `rank:${list}` the live sorted sets; `rank-built` the mark that
 * they were built from PostgreSQL and nothing has been lost since; `rank-dirty` set when an
 * instance could not write a change; `rank-rebuild` the rebuild lock (a token, with a time to
 * live the rebuild keeps extending); while it is held, `rank-next:${list}` the new copies,
 * `rank-journal:${list}` every change written to a live list (one item per member: `+` or `-`
 * and the member, or `x` for a dropped list), and `rank-rebuild-lists` the lists either touches.
 * Scripts build some key names from the prefix: Ludus expects one Redis, not a cluster.
 */

/** Shared by the scripts that replay journal items onto a new copy (KEYS[n] of the caller). */
const REPLAY = `local function replay(items, copy)
  for _, item in ipairs(items) do
    local op, member = string.sub(item, 1, 1), string.sub(item, 2)
    if op == '+' then redis.call('ZADD', copy, 0, member)
    elseif op == '-' then redis.call('ZREM', copy, member)
    else redis.call('UNLINK', copy) end
  end
end
`;

/**
 * A write: ZREM then ZADD on the live list (the two are disjoint), journaled while a rebuild runs.
 * KEYS: live, rebuild lock, journal, rebuild lists. ARGV: list, how many members to remove, then
 * the members to remove and the members to add.
 */
const WRITE = `local removes, adds, journal = {}, {}, {}
local n = tonumber(ARGV[2])
for i = 3, #ARGV do
  if i < 3 + n then
    removes[#removes + 1] = ARGV[i]
    journal[#journal + 1] = '-' .. ARGV[i]
  else
    adds[#adds + 1] = 0
    adds[#adds + 1] = ARGV[i]
    journal[#journal + 1] = '+' .. ARGV[i]
  end
end
if #removes > 0 then redis.call('ZREM', KEYS[1], unpack(removes)) end
if #adds > 0 then redis.call('ZADD', KEYS[1], unpack(adds)) end
if #journal > 0 and redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('RPUSH', KEYS[3], unpack(journal))
  redis.call('SADD', KEYS[4], ARGV[1])
end
return 0`;

/** Drops a live list (journaled while a rebuild runs). KEYS as WRITE's; ARGV: list. */
const DROP = `redis.call('UNLINK', KEYS[1])
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('RPUSH', KEYS[3], 'x')
  redis.call('SADD', KEYS[4], ARGV[1])
end
return 0`;

/** Reads refuse an index that is not built. KEYS: list, built mark. */
const CHECK_BUILT = `if redis.call('EXISTS', KEYS[2]) == 0 then return redis.error_reply('LUDUSNOTBUILT') end
`;
const RANK = `${CHECK_BUILT}return redis.call('ZLEXCOUNT', KEYS[1], '-', ARGV[1])`;
const RANGE = `${CHECK_BUILT}return redis.call('ZRANGE', KEYS[1], ARGV[1], ARGV[2])`;
const SIZE = `${CHECK_BUILT}return redis.call('ZCARD', KEYS[1])`;

/**
 * Takes the rebuild lock unless another rebuild holds it: clears what an abandoned rebuild left,
 * takes the index out of service (every instance reads PostgreSQL until the swap) and starts the
 * journal. KEYS: lock, rebuild lists, built mark, dirty mark. ARGV: token, time to live (ms), prefix.
 */
const BEGIN = `if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
for _, list in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  redis.call('UNLINK', ARGV[3] .. 'rank-journal:' .. list, ARGV[3] .. 'rank-next:' .. list)
end
redis.call('DEL', KEYS[2], KEYS[3], KEYS[4])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`;

/** Fails unless this rebuild still holds the lock, and extends it. KEYS[1]: lock; ARGV: token, ttl. */
const HOLD_LOCK = `if redis.call('GET', KEYS[1]) ~= ARGV[1] then return redis.error_reply('LUDUSLOCKLOST') end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
`;

/**
 * Adds members to a new copy. KEYS: lock, copy, rebuild lists. ARGV: token, ttl, list, "fresh" (1
 * to start the copy empty), members.
 */
const FILL = `${HOLD_LOCK}if ARGV[4] == '1' then redis.call('UNLINK', KEYS[2]) end
redis.call('SADD', KEYS[3], ARGV[3])
local adds = {}
for i = 5, #ARGV do
  adds[#adds + 1] = 0
  adds[#adds + 1] = ARGV[i]
end
if #adds > 0 then redis.call('ZADD', KEYS[2], unpack(adds)) end
return 0`;

/**
 * Replays up to ARGV[3] journal items onto the copy; returns how many are left. KEYS: lock,
 * journal, copy. ARGV: token, ttl, count.
 */
const DRAIN = `${HOLD_LOCK}${REPLAY}local items = redis.call('LPOP', KEYS[2], ARGV[3])
if items then replay(items, KEYS[3]) end
return redis.call('LLEN', KEYS[2])`;

/**
 * Replays the rest of every journal, swaps each copy in for its live list (a list whose copy is
 * empty is deleted), ends the rebuild and marks the index built — unless an instance marked it
 * dirty meanwhile. KEYS: lock, rebuild lists, built mark, dirty mark. ARGV: token, ttl, prefix, now.
 */
const FINISH = `${HOLD_LOCK}if redis.call('EXISTS', KEYS[4]) == 1 then return redis.error_reply('LUDUSDIRTY') end
${REPLAY}for _, list in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  local journal, copy, live = ARGV[3] .. 'rank-journal:' .. list, ARGV[3] .. 'rank-next:' .. list, ARGV[3] .. 'rank:' .. list
  replay(redis.call('LRANGE', journal, 0, -1), copy)
  redis.call('UNLINK', journal, live)
  if redis.call('EXISTS', copy) == 1 then redis.call('RENAME', copy, live) end
end
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('SET', KEYS[3], ARGV[4])
return 0`;

/** Abandons this rebuild if it still holds the lock. KEYS: lock, rebuild lists. ARGV: token, prefix. */
const ABORT = `if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
for _, list in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  redis.call('UNLINK', ARGV[2] .. 'rank-journal:' .. list, ARGV[2] .. 'rank-next:' .. list)
end
redis.call('DEL', KEYS[1], KEYS[2])
return 1`;

/** Marks the index not built and dirty. KEYS: built mark, dirty mark. */
const INVALIDATE = `redis.call('DEL', KEYS[1])
redis.call('SET', KEYS[2], '1')
return 0`;

type Arg = string | Buffer | number;
const SCRIPTS = { WRITE, DROP, RANK, RANGE, SIZE, BEGIN, FILL, DRAIN, FINISH, ABORT, INVALIDATE };
type ScriptName = keyof typeof SCRIPTS;
/** ioredis defines a command per script (EVALSHA, EVAL the first time), and a Buffer-replying twin. */
type ScriptCommands = {
  [K in ScriptName as `ludusRank${K}`]: (numberOfKeys: number, ...args: Arg[]) => Promise<unknown>;
} & { ludusRankRANGEBuffer(numberOfKeys: number, ...args: Arg[]): Promise<Buffer[]> };

/** How long a rebuild holds its lock without extending it (each fill and drain step extends it). */
const LOCK_TTL_MS = 60_000;
/** Journal items replayed a step while the rebuild drains before the final swap. */
const DRAIN_STEP = 10_000;

/** A Redis error reply from one of the scripts, by its code (Redis may put "ERR " before it). */
function isReply(err: unknown, code: string): boolean {
  return err instanceof Error && /^(ERR )?([A-Z]+)/.exec(err.message)?.[2] === code;
}

/** Runs a step of a rebuild, turning the scripts' refusals into RebuildInterrupted. */
async function rebuildStep<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (isReply(err, "LUDUSLOCKLOST")) throw new RebuildInterrupted("it lost its lock");
    if (isReply(err, "LUDUSDIRTY")) throw new RebuildInterrupted("an instance could not write a change");
    throw err;
  }
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

export class RedisIndex implements RankIndex {
  readonly #redis: Redis & ScriptCommands;
  readonly #ownsClient: boolean;
  readonly #prefix: string;

  constructor(options: RedisIndexOptions = {}) {
    this.#prefix = options.prefix ?? "ludus:";
    const redis = options.redis ?? new Redis(options.url ?? "redis://127.0.0.1:6379");
    this.#ownsClient = options.redis === undefined;
    for (const [name, lua] of Object.entries(SCRIPTS)) {
      if (!(`ludusRank${name}` in redis)) redis.defineCommand(`ludusRank${name}`, { lua });
    }
    this.#redis = redis as Redis & ScriptCommands;
  }

  /** The Redis key of a list. */
  keyOf(list: string): string {
    return `${this.#prefix}rank:${list}`;
  }

  #name(suffix: string): string {
    return this.#prefix + suffix;
  }

  /** The keys WRITE and DROP take for a list. */
  #writeKeys(list: string): string[] {
    return [
      this.keyOf(list),
      this.#name("rank-rebuild"),
      this.#name(`rank-journal:${list}`),
      this.#name("rank-rebuild-lists"),
    ];
  }

  async #write(list: string, remove: Buffer[], add: Buffer[]): Promise<void> {
    await this.#redis.ludusRankWRITE(4, ...this.#writeKeys(list), list, remove.length, ...remove, ...add);
  }

  async upsert(list: string, next: RankKey, previous?: RankKey): Promise<void> {
    const member = encodeKey(next);
    const old = previous === undefined ? undefined : encodeKey(previous);
    await this.#write(list, old === undefined || old.equals(member) ? [] : [old], [member]);
  }

  async upsertMany(list: string, changes: { next: RankKey; previous?: RankKey }[]): Promise<void> {
    // Encode everything first, so a bad key fails the call before anything is written.
    const chunks: NetChange[] = [];
    for (let i = 0; i < changes.length; i += CHUNK) chunks.push(netChange(changes.slice(i, i + CHUNK)));
    // Chunks go out in order on one connection, so Redis applies them in order; each is atomic.
    let inFlight: Promise<void>[] = [];
    for (const { remove, add } of chunks) {
      inFlight.push(this.#write(list, remove, add));
      if (inFlight.length >= IN_FLIGHT) {
        await Promise.all(inFlight);
        inFlight = [];
      }
    }
    await Promise.all(inFlight);
  }

  async remove(list: string, key: RankKey): Promise<void> {
    await this.#write(list, [encodeKey(key)], []);
  }

  /** Runs a read script, turning its refusal of an index that is not built into RankIndexNotBuilt. */
  async #read<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      if (isReply(err, "LUDUSNOTBUILT")) throw new RankIndexNotBuilt();
      throw err;
    }
  }

  async rank(list: string, key: RankKey): Promise<number> {
    const bound = Buffer.concat([EXCLUSIVE, encodeKey(key)]);
    const built = this.#name("rank-built");
    return this.#read(async () => Number(await this.#redis.ludusRankRANK(2, this.keyOf(list), built, bound)));
  }

  async range(list: string, offset: number, limit: number): Promise<RankKey[]> {
    if (!Number.isSafeInteger(offset) || offset < 0) {
      throw new RangeError(`range offset must be an integer >= 0, not ${offset}`);
    }
    if (!Number.isSafeInteger(limit) || limit < 0) {
      throw new RangeError(`range limit must be an integer >= 0, not ${limit}`);
    }
    if (limit === 0) {
      // Still refused when not built, as any read is (ZRANGE 0 -1 would be the whole list).
      await this.size(list);
      return [];
    }
    const built = this.#name("rank-built");
    const members = await this.#read(() =>
      this.#redis.ludusRankRANGEBuffer(2, this.keyOf(list), built, offset, offset + limit - 1),
    );
    return members.map(decodeKey);
  }

  async size(list: string): Promise<number> {
    const built = this.#name("rank-built");
    return this.#read(async () => Number(await this.#redis.ludusRankSIZE(2, this.keyOf(list), built)));
  }

  async isBuilt(): Promise<boolean> {
    return (await this.#redis.exists(this.#name("rank-built"))) === 1;
  }

  async invalidate(): Promise<void> {
    await this.#redis.ludusRankINVALIDATE(2, this.#name("rank-built"), this.#name("rank-dirty"));
  }

  async beginRebuild(): Promise<SharedRebuild | undefined> {
    const token = randomUUID();
    const lock = this.#name("rank-rebuild");
    const lists = this.#name("rank-rebuild-lists");
    const began = await this.#redis.ludusRankBEGIN(
      4,
      lock,
      lists,
      this.#name("rank-built"),
      this.#name("rank-dirty"),
      token,
      LOCK_TTL_MS,
      this.#prefix,
    );
    if (Number(began) !== 1) return undefined;
    const started = new Set<string>();
    const held = [token, LOCK_TTL_MS] as const;
    return {
      fill: async (list, keys) => {
        const copy = this.#name(`rank-next:${list}`);
        const fresh = started.has(list) ? "0" : "1";
        started.add(list);
        const members = keys.map(encodeKey);
        for (let i = 0; i === 0 || i < members.length; i += CHUNK) {
          const chunk = members.slice(i, i + CHUNK);
          const step = () =>
            this.#redis.ludusRankFILL(3, lock, copy, lists, ...held, list, i === 0 ? fresh : "0", ...chunk);
          await rebuildStep(step);
        }
      },
      finish: async () => {
        // Replay most of the journals a step at a time, so the final swap has little left to do.
        for (const list of await this.#redis.smembers(lists)) {
          const journal = this.#name(`rank-journal:${list}`);
          const copy = this.#name(`rank-next:${list}`);
          const drain = () => this.#redis.ludusRankDRAIN(3, lock, journal, copy, ...held, DRAIN_STEP);
          while (Number(await rebuildStep(drain)) > DRAIN_STEP);
        }
        const built = this.#name("rank-built");
        const dirty = this.#name("rank-dirty");
        const now = new Date().toISOString();
        await rebuildStep(() =>
          this.#redis.ludusRankFINISH(4, lock, lists, built, dirty, ...held, this.#prefix, now),
        );
      },
      abort: async () => {
        await this.#redis.ludusRankABORT(2, lock, lists, token, this.#prefix);
      },
    };
  }

  async drop(list: string): Promise<void> {
    // UNLINK frees a large set in the background instead of blocking Redis while it does.
    await this.#redis.ludusRankDROP(4, ...this.#writeKeys(list), list);
  }

  async close(): Promise<void> {
    if (this.#ownsClient && this.#redis.status !== "end") await this.#redis.quit();
  }
}
