import { isNetlabError, NetlabError, requirePositiveInt } from "@netlab/core";
import { describe, expect, it } from "vitest";
import { ProtocolError } from "../src/index.js";

describe("errors", () => {
  it("carries a stable code, a hint and a cause", () => {
    const cause = new Error("root");
    const err = new ProtocolError("FRAME_TOO_LARGE", "too big", { hint: "send less", cause });
    expect(err).toBeInstanceOf(NetlabError);
    expect(err.name).toBe("ProtocolError");
    expect(err.code).toBe("FRAME_TOO_LARGE");
    expect(err.hint).toBe("send less");
    expect(err.cause).toBe(cause);
    expect(err.recoverable).toBe(false);
    expect(isNetlabError(err, "FRAME_TOO_LARGE")).toBe(true);
    expect(isNetlabError(err, "BAD_MESSAGE")).toBe(false);
    expect(isNetlabError(new Error("x"))).toBe(false);
  });

  it("requirePositiveInt allows Infinity only when asked", () => {
    expect(() => requirePositiveInt("n", Number.POSITIVE_INFINITY)).toThrow(/n must be a positive integer/);
    expect(() => requirePositiveInt("n", Number.POSITIVE_INFINITY, { allowInfinity: true })).not.toThrow();
    expect(() => requirePositiveInt("n", 3)).not.toThrow();
  });
});
