import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, PasswordHasher, passwordProblem } from "./passwords.ts";

const identity = { username: "GameMaster42", email: "Ana.Player@Example.com" };

describe("passwordProblem", () => {
  it("accepts a long, varied password", () => {
    assert.equal(passwordProblem("correct horse battery staple", identity), undefined);
    assert.equal(passwordProblem("a".repeat(7) + "bcd", identity), undefined, "exactly 10, 4 distinct");
  });

  it("refuses passwords shorter than the minimum", () => {
    assert.equal(MIN_PASSWORD_LENGTH, 10);
    assert.match(passwordProblem("Sh0rt!pw9", identity) ?? "", /at least 10 characters/);
    assert.match(passwordProblem("", identity) ?? "", /at least 10/);
  });

  it("refuses passwords longer than the maximum", () => {
    const long = "abcd".repeat(MAX_PASSWORD_LENGTH / 4) + "e";
    assert.match(passwordProblem(long, identity) ?? "", /at most 256/);
    assert.equal(passwordProblem(long.slice(0, MAX_PASSWORD_LENGTH), identity), undefined);
  });

  it("refuses the username, case-insensitively", () => {
    for (const pw of ["GameMaster42", "gamemaster42", "GAMEMASTER42"]) {
      assert.equal(passwordProblem(pw, identity), "must not be the username", pw);
    }
  });

  it("refuses the email address or its local part, case-insensitively", () => {
    for (const pw of [
      "Ana.Player@Example.com",
      "ana.player@example.com",
      "ANA.PLAYER@EXAMPLE.COM",
      "aNa.pLaYeR",
    ]) {
      assert.equal(passwordProblem(pw, identity), "must not be the email address", pw);
    }
  });

  it("refuses passwords with fewer than 4 different characters", () => {
    for (const pw of ["aaaaaaaaaaaa", "abababababab", "abcabcabcabc", "AaAaAaAaAaAa"]) {
      assert.equal(passwordProblem(pw, identity), "must use at least 4 different characters", pw);
    }
  });

  it("accepts exactly the passwords that meet every rule (property)", () => {
    fc.assert(
      fc.property(fc.string({ minLength: 0, maxLength: 300 }), (pw) => {
        const lower = pw.toLowerCase();
        const expectedOk =
          pw.length >= MIN_PASSWORD_LENGTH &&
          pw.length <= MAX_PASSWORD_LENGTH &&
          lower !== identity.username.toLowerCase() &&
          lower !== identity.email.toLowerCase() &&
          lower !== "ana.player" &&
          new Set(pw).size >= 4;
        assert.equal(passwordProblem(pw, identity) === undefined, expectedOk, JSON.stringify(pw));
      }),
      { numRuns: 1000 },
    );
  });
});

describe("PasswordHasher", () => {
  // Cheap settings keep the test fast; the algorithm and format are what matter here.
  const hasher = new PasswordHasher({ memoryCost: 1024, timeCost: 1 });

  it("produces an argon2id PHC string that verifies", async () => {
    const hash = await hasher.hash("correct horse battery staple");
    assert.ok(hash.startsWith("$argon2id$"), hash);
    assert.match(hash, /\$m=1024,t=1,p=1\$/);
    assert.ok(!hash.includes("correct horse"));
    assert.equal(await hasher.verify(hash, "correct horse battery staple"), true);
  });

  it("salts: the same password hashes differently each time", async () => {
    const [a, b] = await Promise.all([hasher.hash("same password here"), hasher.hash("same password here")]);
    assert.notEqual(a, b);
    assert.equal(await hasher.verify(a, "same password here"), true);
    assert.equal(await hasher.verify(b, "same password here"), true);
  });

  it("rejects a wrong password", async () => {
    const hash = await hasher.hash("correct horse battery staple");
    for (const wrong of [
      "correct horse battery stapl",
      "Correct horse battery staple",
      "",
      " correct horse battery staple",
    ]) {
      assert.equal(await hasher.verify(hash, wrong), false, JSON.stringify(wrong));
    }
  });

  it("returns false, not throws, for a null hash", async () => {
    assert.equal(await hasher.verify(null, "anything at all"), false);
    assert.equal(await hasher.verify(null, ""), false);
  });

  it("returns false, not throws, for a malformed hash", async () => {
    for (const bad of [
      "",
      "not-a-hash",
      "$argon2id$v=19$m=1024,t=1,p=1$broken",
      "$2b$10$abcdefghijklmnopqrstuv",
    ]) {
      assert.equal(await hasher.verify(bad, "whatever password"), false, bad);
    }
  });
});
