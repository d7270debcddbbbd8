import { describe, expect, it } from "vitest";
import {
  isNetlabError,
  NetlabError,
  OptionError,
  optionChecks,
  requireInt,
  requireMs,
  requirePositiveInt,
  requireRange,
  withDefaults,
} from "../src/index.js";

const invalid = expect.objectContaining({ code: "INVALID_OPTION" });

describe("NetlabError", () => {
  it("carries a code, a hint and a cause, and names its subclass", () => {
    class DemoError extends NetlabError<"DEMO"> {}
    const cause = new Error("root");
    const err = new DemoError("DEMO", "it broke", { hint: "try again", cause });
    expect(err).toBeInstanceOf(NetlabError);
    expect(err).toMatchObject({ name: "DemoError", code: "DEMO", message: "it broke", hint: "try again" });
    expect(err.cause).toBe(cause);
    expect(isNetlabError(err, "DEMO")).toBe(true);
    expect(isNetlabError(err, "OTHER")).toBe(false);
    expect(isNetlabError(new Error("x"))).toBe(false);
    expect(new NetlabError("X", "no cause")).not.toHaveProperty("cause");
  });

  it("OptionError is INVALID_OPTION", () => {
    expect(new OptionError("INVALID_OPTION", "bad")).toMatchObject({
      name: "OptionError",
      code: "INVALID_OPTION",
    });
  });
});

describe("withDefaults", () => {
  const DEFAULTS = { timeoutMs: 1_000, maxBytes: 64, name: "x" };

  it("lays the given options over the defaults, an undefined value keeping the default", () => {
    expect(withDefaults(DEFAULTS, { timeoutMs: 5, maxBytes: undefined })).toEqual({
      timeoutMs: 5,
      maxBytes: 64,
      name: "x",
    });
    expect(withDefaults(DEFAULTS)).toEqual(DEFAULTS);
    expect(withDefaults(DEFAULTS, { timeoutMs: Number.POSITIVE_INFINITY }).timeoutMs).toBe(
      Number.POSITIVE_INFINITY,
    );
  });

  it("never changes the defaults object", () => {
    withDefaults(DEFAULTS, { name: "y" });
    expect(DEFAULTS.name).toBe("x");
  });
});

describe("validators", () => {
  it("requirePositiveInt allows Infinity only when asked", () => {
    expect(() => requirePositiveInt("n", Number.POSITIVE_INFINITY)).toThrow(/n must be a positive integer/);
    expect(() => requirePositiveInt("n", Number.POSITIVE_INFINITY, { allowInfinity: true })).not.toThrow();
    expect(() => requirePositiveInt("n", 3)).not.toThrow();
    for (const bad of [0, -1, 1.5, Number.NaN]) expect(() => requirePositiveInt("n", bad)).toThrow(invalid);
  });

  it("requireInt holds min and max, and says the range", () => {
    expect(() => requireInt("port", 65_535, { min: 1, max: 65_535 })).not.toThrow();
    expect(() => requireInt("port", 0, { min: 1, max: 65_535 })).toThrow(
      "port must be an integer from 1 to 65535, got 0",
    );
    expect(() => requireInt("n", -1)).toThrow("n must be an integer ≥ 0, got -1");
    expect(() => requireInt("n", 2.5)).toThrow(invalid);
    expect(() => requireInt("n", Number.POSITIVE_INFINITY)).toThrow(invalid);
    expect(() => requireInt("n", Number.POSITIVE_INFINITY, { allowInfinity: true })).not.toThrow();
  });

  it("requireRange takes fractions in [min, max] and refuses NaN", () => {
    expect(() => requireRange("lossRate", 0.5, 0, 1)).not.toThrow();
    expect(() => requireRange("lossRate", 1.5, 0, 1)).toThrow("lossRate must be between 0 and 1, got 1.5");
    expect(() => requireRange("lossRate", Number.NaN, 0, 1)).toThrow(invalid);
    expect(() => requireRange("bytes", Number.POSITIVE_INFINITY, 0, Number.POSITIVE_INFINITY)).not.toThrow();
  });

  it("requireMs takes 0, fractions and Infinity, and refuses negatives and NaN", () => {
    for (const ok of [0, 2.5, Number.POSITIVE_INFINITY]) expect(() => requireMs("t", ok)).not.toThrow();
    expect(() => requireMs("t", -1)).toThrow("t must be a number of ms ≥ 0, got -1");
    expect(() => requireMs("t", Number.NaN)).toThrow(invalid);
  });
});

describe("optionChecks", () => {
  it("throws INVALID_OPTION as the package's own error class", () => {
    class DemoError extends NetlabError<"INVALID_OPTION" | "OTHER"> {}
    const { requireInt: check } = optionChecks(DemoError);
    expect(() => check("n", -1)).toThrow(DemoError);
    expect(() => check("n", -1)).toThrow(invalid);
    expect(() => requireInt("n", -1)).toThrow(OptionError);
  });
});

describe("NetlabError in JSON", () => {
  it("JSON.stringify keeps its name, code, message and hint (an Error's own fields are not enumerable)", async () => {
    const { NetlabError } = await import("../src/index.js");
    const err = new NetlabError("ADDRESS_IN_USE", "port 5001 is in use", { hint: "pick another --port" });
    expect(JSON.parse(JSON.stringify({ error: err }))).toEqual({
      error: {
        name: "NetlabError",
        code: "ADDRESS_IN_USE",
        message: "port 5001 is in use",
        hint: "pick another --port",
      },
    });
    expect(JSON.parse(JSON.stringify(new NetlabError("X", "no hint")))).toEqual({
      name: "NetlabError",
      code: "X",
      message: "no hint",
    });
  });
});
