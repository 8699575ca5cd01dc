/**
 * The rank index in this process: per list, a B+ tree whose leaves are blocks of keys in typed
 * arrays and whose inner nodes count the entries under each child, so rank, range, insert and
 * remove are O(log n), with no JavaScript object per entry.
 *
 * A key is stored as one 32-byte record of eight uint32 words that compare, word by word, in the
 * order of compareKeys: the score's IEEE 754 bits made order-preserving and inverted (higher first),
 * reachedAt's bits made order-preserving, then the user id's 128 bits (lowercase hex UUIDs compare as
 * strings the way their numbers do). Leaves hold up to `blockSize` records and are linked both ways
 * for range scans. Inner nodes hold up to `fanout` children, a separator per child (the child's keys
 * are at least its separator and below the next one) and the number of entries under each child.
 * Nodes other than the root stay at least half full (merged with or refilled from a sibling when a
 * removal leaves them below half), so memory per entry stays bounded whatever the workload; the one
 * exception is the last leaf: a key after every other starts a new leaf instead of splitting the
 * full one before it, so keys arriving in rank order fill leaves completely.
 *
 * Keys must have a lowercase canonical UUID as userId and numbers (not NaN) as score and reachedAt;
 * anything else is refused with a TypeError before the list changes. -0 is stored as 0 (compareKeys
 * holds them equal).
 *
 * Every method is synchronous inside: a call runs to completion before any other starts. A large
 * upsertMany blocks the event loop while it runs: about 0.9 s of CPU for a million keys in random
 * order in one call (17 s for ten million, much of it collecting the caller's row objects), 0.4 s
 * per million already in rank order (see bench/rank-index-memory.ts). Streaming a rebuild in
 * chunks of rows in rank order keeps every call short.
 */
import type { RankIndex, RankKey } from "./rank-index.ts";

export interface MemoryRankIndexOptions {
  /** Most keys in one leaf block (default 256; at least 4). */
  blockSize?: number;
  /** Most children of one inner node (default 64; at least 4). */
  fanout?: number;
}

const DEFAULT_BLOCK_SIZE = 256;
const DEFAULT_FANOUT = 64;
/** Capacity of a list's first leaf, which doubles up to blockSize: small lists stay small. */
const FIRST_LEAF_CAPACITY = 8;
/** Batches of upsertMany without moves at least this big are sorted and merged in one go. */
const BATCH_MIN = 64;

// A record is 8 uint32 words that sort as the keys do when compared word by word: [0, 1] the
// score's IEEE 754 bits made order-preserving, then inverted (higher scores first); [2, 3] reachedAt's
// bits made order-preserving; [4 … 7] the user id. One typed array per node, no float64 views.
const WORDS = 8;

// ------------------------------------------------------------------------------------ the query key

// The key being looked up, parsed once per call. Every operation runs synchronously, so one set of
// module-level variables serves every index and list.
let q0 = 0;
let q1 = 0;
let q2 = 0;
let q3 = 0;
let q4 = 0;
let q5 = 0;
let q6 = 0;
let q7 = 0;

// A float64's bits as two uint32 words, high word first whatever the platform's byte order.
const bits = new Float64Array(1);
const bitWords = new Uint32Array(bits.buffer);
const HI = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1 ? 1 : 0;
const LO = 1 - HI;
let sortHi = 0;
let sortLo = 0;

/** Sets sortHi, sortLo to words that compare as uint32s in the order of x (not NaN, not -0). */
function sortable(x: number): void {
  bits[0] = x;
  const hi = bitWords[HI]!;
  const lo = bitWords[LO]!;
  if (hi >= 0x80000000) {
    sortHi = ~hi >>> 0;
    sortLo = ~lo >>> 0;
  } else {
    sortHi = (hi | 0x80000000) >>> 0;
    sortLo = lo;
  }
}

/** The number whose sortable words are hi, lo. */
function unsortable(hi: number, lo: number): number {
  if (hi >= 0x80000000) {
    bitWords[HI] = hi & 0x7fffffff;
    bitWords[LO] = lo;
  } else {
    bitWords[HI] = ~hi;
    bitWords[LO] = ~lo;
  }
  return bits[0]!;
}

// Hex digit values by character code, -1 for anything else (upper case included).
const HEX_VALUE = new Int8Array(65536).fill(-1);
for (let i = 0; i < 16; i++) HEX_VALUE["0123456789abcdef".charCodeAt(i)] = i;

/** The value of the four hex digits at `i`, or -1. */
function hex4(s: string, i: number): number {
  const a = HEX_VALUE[s.charCodeAt(i)]!;
  const b = HEX_VALUE[s.charCodeAt(i + 1)]!;
  const c = HEX_VALUE[s.charCodeAt(i + 2)]!;
  const d = HEX_VALUE[s.charCodeAt(i + 3)]!;
  return (a | b | c | d) < 0 ? -1 : (a << 12) | (b << 8) | (c << 4) | d;
}

function badKey(key: RankKey, why: string): never {
  throw new TypeError(`invalid rank key ${JSON.stringify(key)}: ${why}`);
}

/** Parses and checks `key` into the query variables. */
function loadKey(key: RankKey): void {
  const { score, reachedAt, userId } = key;
  if (typeof score !== "number" || score !== score) badKey(key, "score must be a number");
  if (typeof reachedAt !== "number" || reachedAt !== reachedAt) badKey(key, "reachedAt must be a number");
  if (
    typeof userId !== "string" ||
    userId.length !== 36 ||
    userId.charCodeAt(8) !== 45 ||
    userId.charCodeAt(13) !== 45 ||
    userId.charCodeAt(18) !== 45 ||
    userId.charCodeAt(23) !== 45
  ) {
    badKey(key, "userId must be a lowercase canonical UUID");
  }
  const a = hex4(userId, 0);
  const b = hex4(userId, 4);
  const c = hex4(userId, 9);
  const d = hex4(userId, 14);
  const e = hex4(userId, 19);
  const f = hex4(userId, 24);
  const g = hex4(userId, 28);
  const h = hex4(userId, 32);
  if ((a | b | c | d | e | f | g | h) < 0) badKey(key, "userId must be a lowercase canonical UUID");
  // + 0 turns -0 into 0: compareKeys holds them equal, so they must make the same words.
  sortable(score + 0);
  q0 = ~sortHi >>> 0;
  q1 = ~sortLo >>> 0;
  sortable(reachedAt + 0);
  q2 = sortHi;
  q3 = sortLo;
  q4 = a * 65536 + b;
  q5 = c * 65536 + d;
  q6 = e * 65536 + f;
  q7 = g * 65536 + h;
}

/** Loads record `i` of u into the query variables. */
function loadRecord(u: Uint32Array, i: number): void {
  const j = WORDS * i;
  q0 = u[j]!;
  q1 = u[j + 1]!;
  q2 = u[j + 2]!;
  q3 = u[j + 3]!;
  q4 = u[j + 4]!;
  q5 = u[j + 5]!;
  q6 = u[j + 6]!;
  q7 = u[j + 7]!;
}

function storeQuery(u: Uint32Array, i: number): void {
  const j = WORDS * i;
  u[j] = q0;
  u[j + 1] = q1;
  u[j + 2] = q2;
  u[j + 3] = q3;
  u[j + 4] = q4;
  u[j + 5] = q5;
  u[j + 6] = q6;
  u[j + 7] = q7;
}

/** Negative if record `i` ranks before the query key, positive if after, 0 if it is the same key. */
function cmpQuery(u: Uint32Array, i: number): number {
  const j = WORDS * i;
  let w = u[j]!;
  if (w !== q0) return w < q0 ? -1 : 1;
  w = u[j + 1]!;
  if (w !== q1) return w < q1 ? -1 : 1;
  w = u[j + 2]!;
  if (w !== q2) return w < q2 ? -1 : 1;
  w = u[j + 3]!;
  if (w !== q3) return w < q3 ? -1 : 1;
  w = u[j + 4]!;
  if (w !== q4) return w < q4 ? -1 : 1;
  w = u[j + 5]!;
  if (w !== q5) return w < q5 ? -1 : 1;
  w = u[j + 6]!;
  if (w !== q6) return w < q6 ? -1 : 1;
  w = u[j + 7]!;
  if (w !== q7) return w < q7 ? -1 : 1;
  return 0;
}

function copyRecord(from: Uint32Array, i: number, to: Uint32Array, j: number): void {
  const a = WORDS * i;
  const b = WORDS * j;
  for (let k = 0; k < WORDS; k++) to[b + k] = from[a + k]!;
}

const HEX_CODE = Uint8Array.from("0123456789abcdef", (c) => c.charCodeAt(0));
const hexCode = (w: number, shift: number) => HEX_CODE[(w >>> shift) & 15]!;

/** The user id of record `i` as a lowercase UUID: one flat string, no concatenation. */
function recordUserId(u: Uint32Array, i: number): string {
  const j = WORDS * i + 4;
  const a = u[j]!;
  const b = u[j + 1]!;
  const c = u[j + 2]!;
  const d = u[j + 3]!;
  // prettier-ignore
  return String.fromCharCode(
    hexCode(a, 28), hexCode(a, 24), hexCode(a, 20), hexCode(a, 16),
    hexCode(a, 12), hexCode(a, 8), hexCode(a, 4), hexCode(a, 0), 45,
    hexCode(b, 28), hexCode(b, 24), hexCode(b, 20), hexCode(b, 16), 45,
    hexCode(b, 12), hexCode(b, 8), hexCode(b, 4), hexCode(b, 0), 45,
    hexCode(c, 28), hexCode(c, 24), hexCode(c, 20), hexCode(c, 16), 45,
    hexCode(c, 12), hexCode(c, 8), hexCode(c, 4), hexCode(c, 0),
    hexCode(d, 28), hexCode(d, 24), hexCode(d, 20), hexCode(d, 16),
    hexCode(d, 12), hexCode(d, 8), hexCode(d, 4), hexCode(d, 0),
  );
}

function recordKey(u: Uint32Array, i: number): RankKey {
  const j = WORDS * i;
  return {
    score: unsortable(~u[j]! >>> 0, ~u[j + 1]! >>> 0),
    reachedAt: unsortable(u[j + 2]!, u[j + 3]!),
    userId: recordUserId(u, i),
  };
}

// ------------------------------------------------------------------------------------------- nodes

class Leaf {
  n = 0;
  cap: number;
  u: Uint32Array;
  prev: Leaf | null = null;
  next: Leaf | null = null;

  constructor(cap: number) {
    this.cap = cap;
    this.u = new Uint32Array(cap * WORDS);
  }

  grow(cap: number): void {
    const u = new Uint32Array(cap * WORDS);
    u.set(this.u.subarray(0, this.n * WORDS));
    this.cap = cap;
    this.u = u;
  }
}

class Branch {
  n = 0;
  readonly children: (Leaf | Branch | null)[];
  /**
   * A separator record per child (slot 0 is not used for searching), then from c0 on the number of
   * entries under each child.
   */
  readonly u: Uint32Array;
  readonly c0: number;

  /** `cap` is fanout + 1: a node may hold one child too many until it is split. */
  constructor(cap: number) {
    this.children = new Array<Leaf | Branch | null>(cap).fill(null);
    this.c0 = cap * WORDS;
    this.u = new Uint32Array(cap * (WORDS + 1));
  }
}

class Tree {
  root: Leaf | Branch;
  /** Inner levels above the leaves: 0 when the root is a leaf. */
  height = 0;
  size = 0;
  first: Leaf;
  last: Leaf;
  readonly minLeaf: number;
  readonly minBranch: number;
  /**
   * The path of the last descent in this tree: the inner node at each depth and the child taken
   * there. Kept per tree (not per module) so that nothing outside a tree keeps its nodes alive.
   */
  readonly pathNode: Branch[] = [];
  readonly pathIndex: number[] = [];

  constructor(
    readonly blockSize: number,
    readonly fanout: number,
    firstCapacity: number,
  ) {
    const leaf = new Leaf(firstCapacity);
    this.root = leaf;
    this.first = leaf;
    this.last = leaf;
    this.minLeaf = blockSize >>> 1;
    this.minBranch = fanout >>> 1;
  }
}

/** The child of `b` whose range holds the query key. */
function childIndex(b: Branch): number {
  let lo = 1;
  let hi = b.n;
  const u = b.u;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cmpQuery(u, mid) > 0) hi = mid;
    else lo = mid + 1;
  }
  return lo - 1;
}

/** How many records of the leaf rank before the query key. */
function lowerBound(leaf: Leaf): number {
  let lo = 0;
  let hi = leaf.n;
  const u = leaf.u;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cmpQuery(u, mid) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The leaf whose range holds the query key, recording the path to it. */
function descend(tree: Tree): Leaf {
  let node = tree.root;
  for (let d = 0; d < tree.height; d++) {
    const b = node as Branch;
    const i = childIndex(b);
    tree.pathNode[d] = b;
    tree.pathIndex[d] = i;
    node = b.children[i]!;
  }
  return node as Leaf;
}

/** Entries under the first n children of b. */
function sum(b: Branch, n: number): number {
  let s = 0;
  for (let i = b.c0; i < b.c0 + n; i++) s += b.u[i]!;
  return s;
}

// ------------------------------------------------------------------------------------------ insert

function insertAt(leaf: Leaf, pos: number): void {
  const n = leaf.n;
  if (pos < n) leaf.u.copyWithin(WORDS * (pos + 1), WORDS * pos, WORDS * n);
  storeQuery(leaf.u, pos);
  leaf.n = n + 1;
}

/**
 * Puts `right` into the inner node at depth `d` of the path, just after the child the path took
 * there, which now holds `leftCount` entries; `right` holds `rightCount` and its separator is record
 * `srcIndex` of `src`. Splits full nodes upward; a new root when d is -1.
 */
function insertChild(
  tree: Tree,
  d: number,
  right: Leaf | Branch,
  src: Uint32Array,
  srcIndex: number,
  leftCount: number,
  rightCount: number,
): void {
  if (d < 0) {
    const root = new Branch(tree.fanout + 1);
    root.children[0] = tree.root;
    root.children[1] = right;
    root.u[root.c0] = leftCount;
    root.u[root.c0 + 1] = rightCount;
    copyRecord(src, srcIndex, root.u, 1);
    root.n = 2;
    tree.root = root;
    tree.height++;
    return;
  }
  const p = tree.pathNode[d]!;
  const c = tree.pathIndex[d]!;
  const n = p.n;
  const k = c + 1;
  const children = p.children;
  for (let j = n; j > k; j--) children[j] = children[j - 1]!;
  children[k] = right;
  const c0 = p.c0;
  p.u.copyWithin(c0 + k + 1, c0 + k, c0 + n);
  p.u[c0 + c] = leftCount;
  p.u[c0 + k] = rightCount;
  p.u.copyWithin(WORDS * (k + 1), WORDS * k, WORDS * n);
  copyRecord(src, srcIndex, p.u, k);
  const total = n + 1;
  p.n = total;
  if (total <= tree.fanout) return;

  const keep = total >>> 1;
  const moved = total - keep;
  const q = new Branch(tree.fanout + 1);
  for (let j = 0; j < moved; j++) {
    q.children[j] = children[keep + j]!;
    children[keep + j] = null;
  }
  q.u.set(p.u.subarray(c0 + keep, c0 + total), c0);
  q.u.set(p.u.subarray(WORDS * keep, WORDS * total));
  q.n = moved;
  p.n = keep;
  insertChild(tree, d - 1, q, q.u, 0, sum(p, keep), sum(q, moved));
}

/** Inserts the query key; false if it was already there. */
function insertQuery(tree: Tree): boolean {
  const leaf = descend(tree);
  const n = leaf.n;
  const pos = lowerBound(leaf);
  if (pos < n && cmpQuery(leaf.u, pos) === 0) return false;
  tree.size++;
  const h = tree.height;
  for (let d = 0; d < h; d++) {
    const b = tree.pathNode[d]!;
    const i = b.c0 + tree.pathIndex[d]!;
    b.u[i] = b.u[i]! + 1;
  }
  if (n < leaf.cap) {
    insertAt(leaf, pos);
    return true;
  }
  const B = tree.blockSize;
  if (leaf.cap < B) {
    leaf.grow(Math.min(B, leaf.cap * 2));
    insertAt(leaf, pos);
    return true;
  }
  // Split. After every key: the full leaf stays full and the new key starts the next one.
  const right = new Leaf(B);
  const appending = pos === n && leaf.next === null;
  const keep = appending ? n : (n + 1) >>> 1;
  right.u.set(leaf.u.subarray(WORDS * keep, WORDS * n));
  right.n = n - keep;
  leaf.n = keep;
  if (!appending && pos <= keep) insertAt(leaf, pos);
  else insertAt(right, pos - keep);
  right.next = leaf.next;
  if (right.next === null) tree.last = right;
  else right.next.prev = right;
  right.prev = leaf;
  leaf.next = right;
  insertChild(tree, h - 1, right, right.u, 0, leaf.n, right.n);
  return true;
}

// ------------------------------------------------------------------------------------------ remove

function removeChild(p: Branch, k: number): void {
  const n = p.n;
  const children = p.children;
  for (let j = k; j < n - 1; j++) children[j] = children[j + 1]!;
  children[n - 1] = null;
  p.u.copyWithin(p.c0 + k, p.c0 + k + 1, p.c0 + n);
  p.u.copyWithin(WORDS * k, WORDS * (k + 1), WORDS * n);
  p.n = n - 1;
}

/** After the inner node at depth d lost a child: collapse the root or refill the node. */
function afterRemoveChild(tree: Tree, d: number): void {
  const p = tree.pathNode[d]!;
  if (d === 0) {
    if (p.n === 1) {
      tree.root = p.children[0]!;
      p.children[0] = null;
      tree.height--;
    }
    return;
  }
  if (p.n < tree.minBranch) fixBranch(tree, d - 1);
}

/** The leaf under the inner node at depth d is below half: merge it with a sibling or even them. */
function fixLeaf(tree: Tree, d: number): void {
  const p = tree.pathNode[d]!;
  const c = tree.pathIndex[d]!;
  const li = c > 0 ? c - 1 : 0;
  const left = p.children[li] as Leaf;
  const right = p.children[li + 1] as Leaf;
  const ln = left.n;
  const rn = right.n;
  const total = ln + rn;
  if (total <= tree.blockSize) {
    if (left.cap < total) left.grow(tree.blockSize);
    left.u.set(right.u.subarray(0, WORDS * rn), WORDS * ln);
    left.n = total;
    left.next = right.next;
    if (left.next === null) tree.last = left;
    else left.next.prev = left;
    p.u[p.c0 + li] = total;
    removeChild(p, li + 1);
    afterRemoveChild(tree, d);
    return;
  }
  const newLeft = total >>> 1;
  if (ln > newLeft) {
    const k = ln - newLeft;
    right.u.copyWithin(WORDS * k, 0, WORDS * rn);
    right.u.set(left.u.subarray(WORDS * newLeft, WORDS * ln), 0);
  } else {
    const k = newLeft - ln;
    if (left.cap < newLeft) left.grow(tree.blockSize);
    left.u.set(right.u.subarray(0, WORDS * k), WORDS * ln);
    right.u.copyWithin(0, WORDS * k, WORDS * rn);
  }
  left.n = newLeft;
  right.n = total - newLeft;
  p.u[p.c0 + li] = left.n;
  p.u[p.c0 + li + 1] = right.n;
  copyRecord(right.u, 0, p.u, li + 1);
}

/** The inner node under the inner node at depth d is below half: merge or even it with a sibling. */
function fixBranch(tree: Tree, d: number): void {
  const p = tree.pathNode[d]!;
  const c = tree.pathIndex[d]!;
  const li = c > 0 ? c - 1 : 0;
  const left = p.children[li] as Branch;
  const right = p.children[li + 1] as Branch;
  const ln = left.n;
  const rn = right.n;
  const total = ln + rn;
  const c0 = left.c0;
  if (total <= tree.fanout) {
    for (let j = 0; j < rn; j++) left.children[ln + j] = right.children[j]!;
    left.u.set(right.u.subarray(c0, c0 + rn), c0 + ln);
    left.u.set(right.u.subarray(0, WORDS * rn), WORDS * ln);
    // The parent's separator is the authoritative lower bound of right's first child.
    copyRecord(p.u, li + 1, left.u, ln);
    left.n = total;
    p.u[p.c0 + li] = p.u[p.c0 + li]! + p.u[p.c0 + li + 1]!;
    removeChild(p, li + 1);
    afterRemoveChild(tree, d);
    return;
  }
  const newLeft = total >>> 1;
  if (ln > newLeft) {
    // Left's last k children move to the front of right.
    const k = ln - newLeft;
    for (let j = rn - 1; j >= 0; j--) right.children[j + k] = right.children[j]!;
    right.u.copyWithin(c0 + k, c0, c0 + rn);
    right.u.copyWithin(WORDS * k, 0, WORDS * rn);
    copyRecord(p.u, li + 1, right.u, k);
    for (let j = 0; j < k; j++) {
      right.children[j] = left.children[newLeft + j]!;
      left.children[newLeft + j] = null;
    }
    right.u.set(left.u.subarray(c0 + newLeft, c0 + ln), c0);
    right.u.set(left.u.subarray(WORDS * newLeft, WORDS * ln), 0);
    copyRecord(left.u, newLeft, p.u, li + 1);
  } else {
    // Right's first k children move to the end of left.
    const k = newLeft - ln;
    for (let j = 0; j < k; j++) left.children[ln + j] = right.children[j]!;
    left.u.set(right.u.subarray(c0, c0 + k), c0 + ln);
    left.u.set(right.u.subarray(0, WORDS * k), WORDS * ln);
    copyRecord(p.u, li + 1, left.u, ln);
    copyRecord(right.u, k, p.u, li + 1);
    for (let j = 0; j < rn - k; j++) right.children[j] = right.children[j + k]!;
    for (let j = rn - k; j < rn; j++) right.children[j] = null;
    right.u.copyWithin(c0, c0 + k, c0 + rn);
    right.u.copyWithin(0, WORDS * k, WORDS * rn);
  }
  left.n = newLeft;
  right.n = total - newLeft;
  p.u[p.c0 + li] = sum(left, left.n);
  p.u[p.c0 + li + 1] = sum(right, right.n);
}

/** Removes the query key; false if it was not there. */
function removeQuery(tree: Tree): boolean {
  const leaf = descend(tree);
  const n = leaf.n;
  const pos = lowerBound(leaf);
  if (pos >= n || cmpQuery(leaf.u, pos) !== 0) return false;
  tree.size--;
  const h = tree.height;
  for (let d = 0; d < h; d++) {
    const b = tree.pathNode[d]!;
    const i = b.c0 + tree.pathIndex[d]!;
    b.u[i] = b.u[i]! - 1;
  }
  leaf.u.copyWithin(WORDS * pos, WORDS * (pos + 1), WORDS * n);
  leaf.n = n - 1;
  if (h > 0 && leaf.n < tree.minLeaf) fixLeaf(tree, h - 1);
  return true;
}

// ------------------------------------------------------------------------------------------- reads

function rankQuery(tree: Tree): number {
  let node = tree.root;
  let r = 0;
  for (let d = tree.height; d > 0; d--) {
    const b = node as Branch;
    const i = childIndex(b);
    const u = b.u;
    const c0 = b.c0;
    for (let j = c0; j < c0 + i; j++) r += u[j]!;
    node = b.children[i]!;
  }
  return r + lowerBound(node as Leaf);
}

function rangeOf(tree: Tree, offset: number, limit: number): RankKey[] {
  const out: RankKey[] = [];
  if (offset >= tree.size || limit === 0) return out;
  let node = tree.root;
  let o = offset;
  for (let d = tree.height; d > 0; d--) {
    const b = node as Branch;
    const u = b.u;
    const c0 = b.c0;
    const last = b.n - 1;
    let i = 0;
    while (i < last && o >= u[c0 + i]!) {
      o -= u[c0 + i]!;
      i++;
    }
    node = b.children[i]!;
  }
  const end = Math.min(limit, tree.size - offset);
  let leaf: Leaf | null = node as Leaf;
  let pos = o;
  while (leaf !== null) {
    const n = leaf.n;
    for (; pos < n; pos++) {
      out.push(recordKey(leaf.u, pos));
      if (out.length === end) return out;
    }
    leaf = leaf.next;
    pos = 0;
  }
  return out;
}

// -------------------------------------------------------------------------------------------- bulk

function swapRecords(u: Uint32Array, i: number, j: number): void {
  const a = WORDS * i;
  const b = WORDS * j;
  for (let k = 0; k < WORDS; k++) {
    const t = u[a + k]!;
    u[a + k] = u[b + k]!;
    u[b + k] = t;
  }
}

/** Negative if record i ranks before record j. Overwrites the query key. */
function cmpRecords(u: Uint32Array, i: number, j: number): number {
  loadRecord(u, j);
  return cmpQuery(u, i);
}

const held = new Uint32Array(WORDS);
/** The next key of a move while its previous key is removed. */
const nextKey = new Uint32Array(WORDS);

function insertionSort(u: Uint32Array, lo: number, hi: number): void {
  for (let i = lo + 1; i <= hi; i++) {
    loadRecord(u, i);
    if (cmpQuery(u, i - 1) <= 0) continue;
    for (let k = 0; k < WORDS; k++) held[k] = u[WORDS * i + k]!;
    let j = i - 1;
    do {
      copyRecord(u, j, u, j + 1);
      j--;
    } while (j >= lo && cmpQuery(u, j) > 0);
    copyRecord(held, 0, u, j + 1);
  }
}

function siftDown(u: Uint32Array, lo: number, root: number, n: number): void {
  for (;;) {
    let child = 2 * root + 1;
    if (child >= n) return;
    if (child + 1 < n && cmpRecords(u, lo + child, lo + child + 1) < 0) child++;
    if (cmpRecords(u, lo + root, lo + child) >= 0) return;
    swapRecords(u, lo + root, lo + child);
    root = child;
  }
}

function heapSort(u: Uint32Array, lo: number, hi: number): void {
  const n = hi - lo + 1;
  for (let s = (n >>> 1) - 1; s >= 0; s--) siftDown(u, lo, s, n);
  for (let end = n - 1; end > 0; end--) {
    swapRecords(u, lo, lo + end);
    siftDown(u, lo, 0, end);
  }
}

function quickSort(u: Uint32Array, lo: number, hi: number, depth: number): void {
  while (hi - lo >= 16) {
    if (depth-- <= 0) {
      heapSort(u, lo, hi);
      return;
    }
    const mid = lo + ((hi - lo) >>> 1);
    if (cmpRecords(u, mid, lo) < 0) swapRecords(u, mid, lo);
    if (cmpRecords(u, hi, mid) < 0) {
      swapRecords(u, hi, mid);
      if (cmpRecords(u, mid, lo) < 0) swapRecords(u, mid, lo);
    }
    loadRecord(u, mid);
    let i = lo - 1;
    let j = hi + 1;
    for (;;) {
      do i++;
      while (cmpQuery(u, i) < 0);
      do j--;
      while (cmpQuery(u, j) > 0);
      if (i >= j) break;
      swapRecords(u, i, j);
    }
    if (j - lo < hi - j) {
      quickSort(u, lo, j, depth);
      lo = j + 1;
    } else {
      quickSort(u, j + 1, hi, depth);
      hi = j;
    }
  }
  insertionSort(u, lo, hi);
}

/**
 * Sorts records 0 … n − 1 of (f, u) in rank order (introsort: quicksort, heapsort past
 * `depthLimit` levels, insertion sort for short runs). Exported for tests.
 */
export function sortRecords(u: Uint32Array, n: number, depthLimit = 2 * Math.ceil(Math.log2(n + 1))): void {
  if (n > 1) quickSort(u, 0, n - 1, depthLimit);
}

function isSorted(u: Uint32Array, n: number): boolean {
  for (let i = 1; i < n; i++) {
    loadRecord(u, i);
    if (cmpQuery(u, i - 1) > 0) return false;
  }
  return true;
}

/** Drops repeated records from sorted records 0 … n − 1; returns how many remain. */
function dedupeSorted(u: Uint32Array, n: number): number {
  if (n === 0) return 0;
  let out = 1;
  for (let i = 1; i < n; i++) {
    loadRecord(u, i);
    if (cmpQuery(u, out - 1) === 0) continue;
    if (out !== i) copyRecord(u, i, u, out);
    out++;
  }
  return out;
}

/** Appends sorted records from … to − 1 of `src`, all after every key of the tree. */
function appendRecords(tree: Tree, src: Uint32Array, from: number, to: number): void {
  const B = tree.blockSize;
  let i = from;
  let last = tree.last;
  if (tree.height === 0 && last.cap < B) last.grow(Math.min(B, Math.max(last.cap, last.n + to - from)));
  const take = Math.min(last.cap - last.n, to - i);
  if (take > 0) {
    last.u.set(src.subarray(WORDS * i, WORDS * (i + take)), WORDS * last.n);
    last.n += take;
    let node = tree.root;
    for (let d = 0; d < tree.height; d++) {
      const b = node as Branch;
      const at = b.c0 + b.n - 1;
      b.u[at] = b.u[at]! + take;
      node = b.children[b.n - 1]!;
    }
    tree.size += take;
    i += take;
  }
  while (i < to) {
    const k = Math.min(B, to - i);
    const leaf = new Leaf(B);
    leaf.u.set(src.subarray(WORDS * i, WORDS * (i + k)));
    leaf.n = k;
    leaf.prev = last;
    last.next = leaf;
    tree.last = leaf;
    const h = tree.height;
    let node = tree.root;
    for (let d = 0; d < h; d++) {
      const b = node as Branch;
      const c = b.n - 1;
      tree.pathNode[d] = b;
      tree.pathIndex[d] = c;
      if (d < h - 1) b.u[b.c0 + c] = b.u[b.c0 + c]! + k;
      node = b.children[c]!;
    }
    let leftCount = last.n;
    if (h > 0) {
      const parent = tree.pathNode[h - 1]!;
      leftCount = parent.u[parent.c0 + tree.pathIndex[h - 1]!]!;
    }
    insertChild(tree, h - 1, leaf, leaf.u, 0, leftCount, k);
    tree.size += k;
    last = leaf;
    i += k;
  }
}

/** Every key of the tree as records, in order. */
function extractRecords(tree: Tree): Uint32Array {
  const u = new Uint32Array(tree.size * WORDS);
  let at = 0;
  for (let leaf: Leaf | null = tree.first; leaf !== null; leaf = leaf.next) {
    u.set(leaf.u.subarray(0, WORDS * leaf.n), at);
    at += WORDS * leaf.n;
  }
  return u;
}

/** Merges two sorted, repeat-free record arrays into one; returns it and its length. */
function mergeRecords(
  aU: Uint32Array,
  an: number,
  bU: Uint32Array,
  bn: number,
): { u: Uint32Array; n: number } {
  const u = new Uint32Array((an + bn) * WORDS);
  let i = 0;
  let j = 0;
  let n = 0;
  while (i < an && j < bn) {
    loadRecord(bU, j);
    const c = cmpQuery(aU, i);
    if (c <= 0) {
      copyRecord(aU, i++, u, n++);
      if (c === 0) j++;
    } else {
      copyRecord(bU, j++, u, n++);
    }
  }
  if (i < an) u.set(aU.subarray(WORDS * i, WORDS * an), WORDS * n);
  else if (j < bn) u.set(bU.subarray(WORDS * j, WORDS * bn), WORDS * n);
  n += an - i + (bn - j);
  return { u, n };
}

// ------------------------------------------------------------------------------------------- index

function checkWindow(offset: number, limit: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError(`offset must be an integer >= 0`);
  if (!Number.isSafeInteger(limit) || limit < 0) throw new RangeError(`limit must be an integer >= 0`);
}

function checkSize(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 4 || value > 1 << 20) {
    throw new RangeError(`${name} must be an integer from 4 to 1048576`);
  }
  return value;
}

export class MemoryRankIndex implements RankIndex {
  private readonly lists = new Map<string, Tree>();
  private readonly blockSize: number;
  private readonly fanout: number;

  constructor(options: MemoryRankIndexOptions = {}) {
    this.blockSize = checkSize("blockSize", options.blockSize ?? DEFAULT_BLOCK_SIZE);
    this.fanout = checkSize("fanout", options.fanout ?? DEFAULT_FANOUT);
  }

  async upsert(list: string, next: RankKey, previous?: RankKey): Promise<void> {
    this.move(list, next, previous);
  }

  async upsertMany(list: string, changes: { next: RankKey; previous?: RankKey }[]): Promise<void> {
    let moves = false;
    for (const change of changes) {
      if (change.previous !== undefined) {
        moves = true;
        break;
      }
    }
    if (!moves && changes.length >= BATCH_MIN) {
      this.insertBatch(list, changes);
      return;
    }
    // Parse every key before changing anything, so a bad key leaves the list as it was.
    const m = changes.length;
    const u = new Uint32Array(2 * m * WORDS);
    for (let i = 0; i < m; i++) {
      const change = changes[i]!;
      loadKey(change.next);
      storeQuery(u, 2 * i);
      if (change.previous !== undefined) {
        loadKey(change.previous);
        storeQuery(u, 2 * i + 1);
      }
    }
    if (m === 0) return;
    const tree = this.tree(list);
    for (let i = 0; i < m; i++) {
      if (changes[i]!.previous !== undefined) {
        loadRecord(u, 2 * i + 1);
        removeQuery(tree);
      }
      loadRecord(u, 2 * i);
      insertQuery(tree);
    }
  }

  async remove(list: string, key: RankKey): Promise<void> {
    loadKey(key);
    const tree = this.lists.get(list);
    if (tree === undefined) return;
    removeQuery(tree);
    if (tree.size === 0) this.lists.delete(list);
  }

  async rank(list: string, key: RankKey): Promise<number> {
    loadKey(key);
    const tree = this.lists.get(list);
    return tree === undefined ? 0 : rankQuery(tree);
  }

  async range(list: string, offset: number, limit: number): Promise<RankKey[]> {
    checkWindow(offset, limit);
    const tree = this.lists.get(list);
    return tree === undefined ? [] : rangeOf(tree, offset, limit);
  }

  async size(list: string): Promise<number> {
    return this.lists.get(list)?.size ?? 0;
  }

  async drop(list: string): Promise<void> {
    this.lists.delete(list);
  }

  async close(): Promise<void> {
    this.lists.clear();
  }

  private tree(list: string): Tree {
    let tree = this.lists.get(list);
    if (tree === undefined) {
      tree = new Tree(this.blockSize, this.fanout, Math.min(FIRST_LEAF_CAPACITY, this.blockSize));
      this.lists.set(list, tree);
    }
    return tree;
  }

  private move(list: string, next: RankKey, previous: RankKey | undefined): void {
    if (previous === undefined) {
      loadKey(next);
      insertQuery(this.tree(list));
      return;
    }
    loadKey(next);
    storeQuery(nextKey, 0);
    loadKey(previous);
    const tree = this.tree(list);
    removeQuery(tree);
    loadRecord(nextKey, 0);
    insertQuery(tree);
  }

  /** Inserts many keys, none moving: sorted once, then appended, merged or inserted one by one. */
  private insertBatch(list: string, changes: { next: RankKey }[]): void {
    const m = changes.length;
    const u = new Uint32Array(m * WORDS);
    for (let i = 0; i < m; i++) {
      loadKey(changes[i]!.next);
      storeQuery(u, i);
    }
    if (!isSorted(u, m)) sortRecords(u, m);
    const count = dedupeSorted(u, m);
    const existing = this.lists.get(list);
    if (existing === undefined || existing.size === 0) {
      const tree = new Tree(this.blockSize, this.fanout, Math.min(this.blockSize, count));
      appendRecords(tree, u, 0, count);
      this.lists.set(list, tree);
      return;
    }
    const last = existing.last;
    loadRecord(u, 0);
    if (cmpQuery(last.u, last.n - 1) < 0) {
      // Every new key goes after the last one: rows streamed in rank order.
      appendRecords(existing, u, 0, count);
      return;
    }
    if (count * 32 >= existing.size) {
      // Big against the list: one merge and a rebuild beat count descents.
      const old = extractRecords(existing);
      const merged = mergeRecords(old, existing.size, u, count);
      const tree = new Tree(this.blockSize, this.fanout, this.blockSize);
      appendRecords(tree, merged.u, 0, merged.n);
      this.lists.set(list, tree);
      return;
    }
    for (let i = 0; i < count; i++) {
      loadRecord(u, i);
      insertQuery(existing);
    }
  }
}

// ------------------------------------------------------------------------------------------- tests

export interface RankTreeShape {
  size: number;
  height: number;
  leaves: number;
  branches: number;
  /** Keys over leaf capacity. */
  leafFill: number;
}

/**
 * Checks every invariant of one list's tree and describes its shape; throws on the first violation.
 * O(n): for tests and benchmarks.
 */
export function inspectMemoryRankIndex(index: MemoryRankIndex, list: string): RankTreeShape {
  const tree = (index as unknown as { lists: Map<string, Tree> }).lists.get(list);
  if (tree === undefined) return { size: 0, height: 0, leaves: 0, branches: 0, leafFill: 0 };
  const fail = (why: string): never => {
    throw new Error(`rank tree ${list}: ${why}`);
  };
  let leaves = 0;
  let branches = 0;
  let keys = 0;
  let capacity = 0;
  const leafOrder: Leaf[] = [];
  const lowFill: Leaf[] = [];
  // Returns the subtree's entry count; every key must be in [lower, upper) where given.
  const visit = (
    node: Leaf | Branch,
    depth: number,
    lower: { u: Uint32Array; i: number } | null,
    upper: { u: Uint32Array; i: number } | null,
  ): number => {
    const inRange = (u: Uint32Array, i: number) => {
      if (lower !== null) {
        loadRecord(lower.u, lower.i);
        if (cmpQuery(u, i) < 0) fail("key below its separator");
      }
      if (upper !== null) {
        loadRecord(upper.u, upper.i);
        if (cmpQuery(u, i) >= 0) fail("key at or above the next separator");
      }
    };
    if (depth === tree.height) {
      if (!(node instanceof Leaf)) return fail("inner node at leaf depth");
      leaves++;
      keys += node.n;
      capacity += node.cap;
      leafOrder.push(node);
      if (node.n > node.cap) fail("leaf over capacity");
      if (tree.height > 0 && node.n < tree.minLeaf) lowFill.push(node);
      if (tree.height > 0 && node.n === 0) fail("empty leaf");
      for (let i = 0; i < node.n; i++) {
        inRange(node.u, i);
        if (i > 0 && cmpRecords(node.u, i - 1, i) >= 0) fail("leaf out of order");
      }
      return node.n;
    }
    if (!(node instanceof Branch)) return fail("leaf above leaf depth");
    branches++;
    if (node.n > tree.fanout) fail("inner node over capacity");
    if (depth === 0 ? node.n < 2 : node.n < tree.minBranch) fail(`inner node with ${node.n} children`);
    let total = 0;
    for (let i = 0; i < node.n; i++) {
      const child = node.children[i];
      if (child === null || child === undefined) return fail("missing child");
      if (i > 0) inRange(node.u, i);
      if (i > 1 && cmpRecords(node.u, i - 1, i) >= 0) fail("separators out of order");
      const count = visit(
        child,
        depth + 1,
        i > 0 ? { u: node.u, i } : lower,
        i < node.n - 1 ? { u: node.u, i: i + 1 } : upper,
      );
      const stored = node.u[node.c0 + i];
      if (count !== stored) fail(`count ${stored} for a child of ${count}`);
      total += count;
    }
    for (let i = node.n; i < node.children.length; i++) {
      if (node.children[i] !== null) fail("stale child past the end");
    }
    return total;
  };
  const total = visit(tree.root, 0, null, null);
  if (total !== tree.size || keys !== tree.size) fail(`size ${tree.size} for ${total} keys`);
  if (tree.first !== leafOrder[0] || tree.last !== leafOrder[leafOrder.length - 1]) fail("first/last");
  for (let i = 0; i < leafOrder.length; i++) {
    const leaf = leafOrder[i]!;
    if (leaf.prev !== (leafOrder[i - 1] ?? null) || leaf.next !== (leafOrder[i + 1] ?? null)) {
      fail("leaf links");
    }
    if (i > 0) {
      const before = leafOrder[i - 1]!;
      loadRecord(leaf.u, 0);
      if (cmpQuery(before.u, before.n - 1) >= 0) fail("leaves out of order");
    }
  }
  // Only the last leaf may be below half, and only because keys were appended after every other.
  if (lowFill.length > 1 || (lowFill.length === 1 && lowFill[0] !== tree.last)) fail("leaf below half");
  return { size: tree.size, height: tree.height, leaves, branches, leafFill: keys / capacity };
}
