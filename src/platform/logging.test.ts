import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { redactUrl } from "./logging.ts";

describe("logging", () => {
  it("takes stream tickets out of logged URLs", () => {
    assert.equal(
      redactUrl("/v1/me/stream?ticket=eyJ.a.b&lastEventId=3"),
      "/v1/me/stream?ticket=[redacted]&lastEventId=3",
    );
    assert.equal(redactUrl("/v1/me/ws?lastEventId=3&TICKET=x"), "/v1/me/ws?lastEventId=3&TICKET=[redacted]");
    assert.equal(redactUrl("/v1/me/stream?notaticket=1"), "/v1/me/stream?notaticket=1");
  });
});
