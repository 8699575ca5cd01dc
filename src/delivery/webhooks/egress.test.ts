import assert from "node:assert/strict";
import type { LookupAddress } from "node:dns";
import { describe, it } from "node:test";
import { EgressPolicy, hostOf, parseAllowList, unmapped } from "./egress.ts";

describe("egress policy", () => {
  const names: Record<string, string[]> = {
    "public.example": ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"],
    "inside.example": ["93.184.216.34", "192.168.0.7"],
  };
  const resolve = (host: string) => Promise.resolve(names[host] ?? []);

  it("reads IPv4-mapped IPv6 addresses as the IPv4 address they are", () => {
    assert.equal(unmapped("::ffff:127.0.0.1"), "127.0.0.1");
    assert.equal(unmapped("::ffff:a9fe:a9fe"), "169.254.169.254");
    assert.equal(unmapped("0:0:0:0:0:ffff:a00:1"), "10.0.0.1");
    assert.equal(unmapped("::1"), "::1");
    assert.equal(unmapped("2001:db8::ffff:a00:1"), "2001:db8::ffff:a00:1");
    assert.equal(unmapped("8.8.8.8"), "8.8.8.8");
  });

  it("classifies addresses: public ones pass, internal ones say what they are", () => {
    const policy = new EgressPolicy([], resolve);
    for (const ok of ["8.8.8.8", "93.184.216.34", "2606:4700::1111", "::ffff:8.8.8.8"]) {
      assert.equal(policy.addressProblem(ok), undefined, ok);
    }
    const expected: [string, RegExp][] = [
      ["127.0.0.1", /loopback/],
      ["::1", /loopback/],
      ["10.0.0.1", /private/],
      ["fd00::1", /private/],
      ["169.254.169.254", /link-local/],
      ["fe80::1", /link-local/],
      ["0.0.0.0", /unspecified/],
      ["::", /unspecified/],
      ["::ffff:192.168.1.1", /private/],
      ["224.0.0.1", /multicast/],
      ["255.255.255.255", /reserved/],
    ];
    for (const [address, what] of expected) assert.match(policy.addressProblem(address) ?? "", what, address);
  });

  it("normalises the URL's host as the WHATWG parser does", () => {
    assert.equal(hostOf("http://2130706433/"), "127.0.0.1");
    assert.equal(hostOf("http://0x7f.1/"), "127.0.0.1");
    assert.equal(hostOf("http://[::ffff:127.0.0.1]:80/"), "::ffff:7f00:1");
    assert.equal(hostOf("http://LocalHost./"), "localhost");
    assert.equal(hostOf("not a url"), undefined);
  });

  it("parses the operator's allow list", () => {
    assert.deepEqual(parseAllowList(""), []);
    assert.deepEqual(parseAllowList("private"), [
      "10.0.0.0/8",
      "172.16.0.0/12",
      "192.168.0.0/16",
      "fc00::/7",
    ]);
    assert.deepEqual(parseAllowList("10.1.0.0/16, ::1"), ["10.1.0.0/16", "::1"]);
    for (const bad of ["10.0.0.0/33", "intranet", "10.0.0.0/", "1.2.3.4/8/1", "fd00::/129"]) {
      assert.throws(() => parseAllowList(bad), /not a CIDR range/, bad);
    }
  });

  it("gives connections only checked addresses, in both lookup forms", async () => {
    const policy = new EgressPolicy([], resolve);
    const lookup = (host: string, options: { all?: boolean; family?: number }) =>
      new Promise<{ error: NodeJS.ErrnoException | null; result: unknown }>((done) =>
        policy.lookup(
          host,
          options,
          (error: NodeJS.ErrnoException | null, address: unknown, family?: number) =>
            done({ error, result: options.all ? address : [address, family] }),
        ),
      );
    const all = await lookup("public.example", { all: true });
    assert.equal(all.error, null);
    assert.deepEqual(
      (all.result as LookupAddress[]).map((a) => a.address),
      names["public.example"],
    );
    assert.deepEqual((await lookup("public.example", { family: 6 })).result, [
      names["public.example"]![1],
      6,
    ]);
    const inside = await lookup("inside.example", { all: true });
    assert.equal(inside.error?.code, "EFORBIDDEN");
    assert.equal((await lookup("localhost", {})).error?.code, "EFORBIDDEN");
    assert.equal((await lookup("metadata.google.internal", {})).error?.code, "EFORBIDDEN");
    assert.equal((await lookup("METADATA.google.internal.", {})).error?.code, "EFORBIDDEN");
    assert.equal((await lookup("localhost.", {})).error?.code, "EFORBIDDEN");
    assert.equal((await lookup("nowhere.example", {})).error?.code, "ENOTFOUND");
    // Allowed by the operator: the same name passes.
    const open = new EgressPolicy(["192.168.0.0/24"], resolve);
    assert.equal(await open.urlProblem("https://inside.example/x"), undefined);
    assert.match((await policy.urlProblem("https://inside.example/x")) ?? "", /private/);
  });
});
