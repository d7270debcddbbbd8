import { describe, expect, it } from "vitest";
import { isAffected, normalizeToxic, parseToxicSpec, ToxicSet, toxicRandom } from "../src/index.js";

describe("toxic specs", () => {
  it("reads the command-line form into toxiproxy's fields and units", () => {
    expect(normalizeToxic(parseToxicSpec("latency=100,jitter=10,stream=upstream,toxicity=0.5"))).toEqual({
      name: "latency_upstream",
      type: "latency",
      stream: "upstream",
      toxicity: 0.5,
      attributes: { latency: 100, jitter: 10 },
    });
    expect(normalizeToxic(parseToxicSpec("slicer=1")).attributes).toEqual({
      average_size: 1,
      size_variation: 0,
      delay: 0,
    });
    expect(normalizeToxic(parseToxicSpec("bandwidth=100,shared=true")).attributes).toEqual({
      rate: 100,
      shared: true,
    });
    expect(normalizeToxic(parseToxicSpec("reset_peer=0,connection=3,client=127.0.0.1"))).toMatchObject({
      connection: 3,
      client: "127.0.0.1",
    });
  });

  it.each([
    ["nope=1", "INVALID_TOXIC", /unknown toxic type 'nope'/],
    ["latency=100,stream=sideways", "INVALID_TOXIC", /unknown stream 'sideways'/],
    ["latency=100,jiter=5", "INVALID_TOXIC", /no attribute 'jiter'/],
    ["latency=-1", "INVALID_OPTION", /latency of latency_downstream must be a number from 0/],
    ["latency=abc", "INVALID_OPTION", /must be a number from 0 to 3600000 \(ms\), got "abc"$/],
    ["latency=1,jitter=", "INVALID_OPTION", /jitter of latency_downstream .*, got ""$/],
    ["latency=1,toxicity=high", "INVALID_OPTION", /toxicity of latency_downstream .*, got "high"$/],
    ["latency=1,connection=first", "INVALID_OPTION", /connection of latency_downstream .*, got "first"$/],
    ["bandwidth=0", "INVALID_OPTION", /rate of bandwidth_downstream must be a number above 0/],
    ["slicer=0", "INVALID_OPTION", /average_size/],
    ["slicer=10,size_variation=10", "INVALID_OPTION", /less than average_size/],
    ["latency=1,toxicity=1.5", "INVALID_OPTION", /toxicity of latency_downstream must be between 0 and 1/],
    ["latency=1,toxicity=NaN", "INVALID_OPTION", /toxicity/],
    ["corrupt=2", "INVALID_OPTION", /probability/],
  ])("refuses %s with %s in one line", (text, code, message) => {
    let error: (Error & { code?: string; hint?: string }) | undefined;
    try {
      normalizeToxic(parseToxicSpec(text));
    } catch (err) {
      error = err as Error & { code?: string };
    }
    expect(error?.code).toBe(code);
    expect(error?.message).toMatch(message);
    expect(error?.message).not.toContain("\n");
  });

  it("hints at timeout when bandwidth is 0", () => {
    expect(() => normalizeToxic(parseToxicSpec("bandwidth=0"))).toThrow(
      expect.objectContaining({ hint: expect.stringContaining("timeout") }),
    );
  });

  it("refuses a duplicate name (DUPLICATE_TOXIC) and an unknown one (UNKNOWN_TOXIC)", () => {
    const set = new ToxicSet({ seed: 1 });
    set.add({ type: "latency" });
    expect(() => set.add({ type: "latency" })).toThrow(expect.objectContaining({ code: "DUPLICATE_TOXIC" }));
    expect(() => set.remove("nope")).toThrow(expect.objectContaining({ code: "UNKNOWN_TOXIC" }));
  });
});

describe("the seeded per-connection draw", () => {
  const affected = (seed: number) =>
    Array.from({ length: 1000 }, (_, i) => i + 1).filter((id) =>
      isAffected(seed, "reset_peer_downstream", id, 0.3),
    );

  it("toxicity 0.3 with seed 1 affects 300 ± 45 of 1,000 connections, the same set every time", () => {
    const first = affected(1);
    expect(first.length).toBeGreaterThanOrEqual(255);
    expect(first.length).toBeLessThanOrEqual(345);
    expect(affected(1)).toEqual(first);
    expect(affected(2)).not.toEqual(first);
  });

  it("toxicity 0 never affects and 1 always does", () => {
    for (let id = 1; id <= 100; id++) {
      expect(isAffected(7, "x", id, 0)).toBe(false);
      expect(isAffected(7, "x", id, 1)).toBe(true);
    }
  });

  it("gives a toxic the same numbers on the same connection with the same seed", () => {
    const draws = (seed: number, id: number) =>
      Array.from({ length: 5 }, toxicRandom(seed, "latency_downstream", id));
    expect(draws(1, 1)).toEqual(draws(1, 1));
    expect(draws(1, 1)).not.toEqual(draws(1, 2));
    expect(draws(1, 1)).not.toEqual(draws(2, 1));
  });
});
