import { lookup as dnsLookup } from "node:dns/promises";
import { BlockList, isIP, isIPv4, isIPv6, type LookupFunction } from "node:net";

/**
 * Where webhooks may connect. Webhook URLs are registered through the API, so without a check an
 * admin token (or whoever holds one) could make this server send requests to its own network:
 * loopback services, the cloud metadata endpoint, private hosts; and the delivery log's status and
 * timing would tell which ports answer. Addresses in the ranges below are refused unless the
 * operator allows them (`LUDUS_WEBHOOK_ALLOW_PRIVATE`), both when a URL is registered and, for
 * names, on every connection: the name is resolved here, every address it has is checked, and the
 * connection goes to a checked address (no second lookup an attacker's DNS could answer
 * differently).
 */

/** Ranges never reached by default, each with what it is. IPv4-mapped IPv6 is checked as IPv4. */
const FORBIDDEN: [cidr: string, what: string][] = [
  ["0.0.0.0/8", "unspecified address"],
  ["10.0.0.0/8", "private address"],
  ["100.64.0.0/10", "shared (carrier-grade NAT) address"],
  ["127.0.0.0/8", "loopback address"],
  ["169.254.0.0/16", "link-local address"],
  ["172.16.0.0/12", "private address"],
  ["192.0.0.0/24", "reserved address"],
  ["192.0.2.0/24", "documentation address"],
  ["192.88.99.0/24", "reserved address"],
  ["192.168.0.0/16", "private address"],
  ["198.18.0.0/15", "benchmarking address"],
  ["198.51.100.0/24", "documentation address"],
  ["203.0.113.0/24", "documentation address"],
  ["224.0.0.0/4", "multicast address"],
  ["240.0.0.0/4", "reserved address"],
  ["::/128", "unspecified address"],
  ["::1/128", "loopback address"],
  ["::/96", "IPv4-compatible address"],
  ["64:ff9b::/96", "NAT64 address"],
  ["64:ff9b:1::/48", "NAT64 address"],
  ["100::/64", "discard address"],
  ["2001::/23", "reserved address"],
  ["2001:db8::/32", "documentation address"],
  ["2002::/16", "6to4 address"],
  ["fc00::/7", "private (unique local) address"],
  ["fe80::/10", "link-local address"],
  ["fec0::/10", "site-local address"],
  ["ff00::/8", "multicast address"],
];

/** Names for groups of ranges, usable in the allow list beside CIDR ranges and single addresses. */
const NAMED_RANGES: Record<string, string[]> = {
  loopback: ["127.0.0.0/8", "::1/128"],
  private: ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"],
};

/** Names that mean this machine, or a cloud's metadata service, whatever DNS says. */
const LOOPBACK_NAME = /(^|\.)localhost$/;
const METADATA_NAMES = new Set([
  "metadata",
  "metadata.google.internal",
  "metadata.goog",
  "instance-data",
  "instance-data.ec2.internal",
  "metadata.azure.internal",
  "metadata.oraclecloud.com",
]);

const familyOf = (ip: string): "ipv4" | "ipv6" => (isIPv4(ip) ? "ipv4" : "ipv6");

function addRange(list: BlockList, range: string): void {
  const [net, bits] = range.split("/");
  const family = familyOf(net!);
  if (bits === undefined) list.addAddress(net!, family);
  else list.addSubnet(net!, Number(bits), family);
}

/** The 8 groups of an IPv6 address (assumed valid), or undefined. */
function ipv6Groups(ip: string): number[] | undefined {
  // A dotted IPv4 tail (`::ffff:127.0.0.1`) becomes its two hex groups first.
  const text = ip.replace(/(\d+)\.(\d+)\.(\d+)\.(\d+)$/, (_, a: string, b: string, c: string, d: string) =>
    [((+a << 8) | +b).toString(16), ((+c << 8) | +d).toString(16)].join(":"),
  );
  const parse = (part: string) => (part === "" ? [] : part.split(":").map((g) => parseInt(g, 16)));
  const [head, rest, extra] = text.split("::");
  if (extra !== undefined) return undefined;
  const left = parse(head ?? "");
  if (rest === undefined) return left.length === 8 ? left : undefined;
  const right = parse(rest);
  const zeros = 8 - left.length - right.length;
  return zeros < 0 ? undefined : [...left, ...Array<number>(zeros).fill(0), ...right];
}

/** An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) as the IPv4 address it is; others unchanged. */
export function unmapped(ip: string): string {
  if (!isIPv6(ip)) return ip;
  const g = ipv6Groups(ip);
  if (g === undefined || g.slice(0, 5).some((x) => x !== 0) || g[5] !== 0xffff) return ip;
  return [g[6]! >> 8, g[6]! & 255, g[7]! >> 8, g[7]! & 255].join(".");
}

/**
 * Reads `LUDUS_WEBHOOK_ALLOW_PRIVATE`: comma-separated CIDR ranges (`10.1.0.0/16`, `fd00::/8`),
 * single addresses, or the names `loopback` and `private`. Throws naming the first bad entry.
 */
export function parseAllowList(spec: string): string[] {
  const out: string[] = [];
  for (const raw of spec.split(",")) {
    const entry = raw.trim().toLowerCase();
    if (entry === "") continue;
    const named = NAMED_RANGES[entry];
    if (named) {
      out.push(...named);
      continue;
    }
    const [net, bits, extra] = entry.split("/");
    const version = isIP(net ?? "");
    const max = version === 4 ? 32 : 128;
    const ok =
      version !== 0 &&
      extra === undefined &&
      (bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= max));
    if (!ok) throw new Error(`'${raw.trim()}' is not a CIDR range, an address, 'loopback' or 'private'`);
    out.push(entry);
  }
  return out;
}

export type Resolver = (hostname: string) => Promise<string[]>;

const systemResolver: Resolver = async (hostname) =>
  (await dnsLookup(hostname, { all: true, verbatim: true })).map((a) => a.address);

/** A refusal to connect: its message says why, never where. */
export class ForbiddenAddressError extends Error {
  override name = "ForbiddenAddressError";
  readonly code = "EFORBIDDEN";
}

export class EgressPolicy {
  private readonly allowed = new BlockList();
  private readonly forbidden: [BlockList, string][];

  constructor(
    allow: readonly string[] = [],
    private readonly resolve: Resolver = systemResolver,
  ) {
    for (const range of parseAllowList(allow.join(","))) addRange(this.allowed, range);
    this.forbidden = FORBIDDEN.map(([range, what]) => {
      const list = new BlockList();
      addRange(list, range);
      return [list, what];
    });
  }

  /** Why this address may not be reached, or undefined when it may. */
  addressProblem(address: string): string | undefined {
    const ip = unmapped(address);
    if (isIP(ip) === 0) return "not an IP address";
    const family = familyOf(ip);
    if (this.allowed.check(ip, family)) return undefined;
    return this.forbidden.find(([list]) => list.check(ip, family))?.[1];
  }

  /** Why a host name (or literal address) may not be reached, judged without DNS. */
  hostProblem(host: string): string | undefined {
    if (isIP(host) !== 0) return this.addressProblem(host);
    // `localhost.` is `localhost`: DNS names may end with the root's dot.
    const name = host.toLowerCase().replace(/\.$/, "");
    if (LOOPBACK_NAME.test(name)) return this.addressProblem("127.0.0.1");
    if (METADATA_NAMES.has(name)) return "metadata service";
    return undefined;
  }

  /**
   * Why a webhook URL may not be registered, or undefined: its host is a forbidden address, a
   * name for this machine or a metadata service, or a name that resolves (now) to a forbidden
   * address. A name that does not resolve now is accepted; it is checked again on every send.
   */
  async urlProblem(url: string, timeoutMs = 2000): Promise<string | undefined> {
    const host = hostOf(url);
    if (host === undefined) return "not a URL";
    const byName = this.hostProblem(host);
    if (byName !== undefined || isIP(host) !== 0) return byName;
    let timer: NodeJS.Timeout | undefined;
    const addresses = await Promise.race([
      this.resolve(host).catch(() => [] as string[]),
      new Promise<string[]>((resolve) => (timer = setTimeout(() => resolve([]), timeoutMs))),
    ]).finally(() => clearTimeout(timer));
    return addresses.map((a) => this.addressProblem(a)).find((p) => p !== undefined);
  }

  /**
   * Resolves a host for a connection: every address it has must be allowed (one forbidden address
   * refuses the lot), and those are the addresses to connect to.
   */
  async addressesFor(host: string): Promise<string[]> {
    const byName = this.hostProblem(host);
    if (byName !== undefined) throw new ForbiddenAddressError(`refused: ${byName}`);
    if (isIP(host) !== 0) return [host];
    const addresses = await this.resolve(host);
    if (addresses.length === 0) throw Object.assign(new Error("no address"), { code: "ENOTFOUND" });
    for (const a of addresses) {
      const problem = this.addressProblem(a);
      if (problem !== undefined) throw new ForbiddenAddressError(`refused: ${problem}`);
    }
    return addresses;
  }

  /** A `lookup` for `net.connect`/`http.request` that only ever yields checked addresses. */
  readonly lookup: LookupFunction = (hostname, options, callback) => {
    this.addressesFor(hostname).then(
      (addresses) => {
        const wanted = options.family === 4 || options.family === 6 ? options.family : undefined;
        const all = addresses
          .map((address) => ({ address, family: isIPv4(address) ? 4 : 6 }))
          .filter((a) => wanted === undefined || a.family === wanted);
        if (all.length === 0) {
          callback(Object.assign(new Error("no address"), { code: "ENOTFOUND" }), "", 0);
        } else if (options.all) {
          (callback as unknown as (e: null, a: typeof all) => void)(null, all);
        } else {
          callback(null, all[0]!.address, all[0]!.family);
        }
      },
      (error: NodeJS.ErrnoException) => callback(error, "", 0),
    );
  };
}

/** The host of a URL as the WHATWG parser normalises it (`0x7f.1` is `127.0.0.1`), brackets off. */
export function hostOf(url: string): string | undefined {
  try {
    return new URL(url).hostname.replace(/^\[(.*)\]$/, "$1").replace(/\.$/, "");
  } catch {
    return undefined;
  }
}
