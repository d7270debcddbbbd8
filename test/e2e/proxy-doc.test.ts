import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { buildProgram } from "../../apps/cli/src/program.js";
import { normalizeToxic, parseToxicSpec, TOXIC_KINDS } from "../../packages/proxy/src/index.js";

const doc = readFileSync(new URL("../../docs/proxy.md", import.meta.url), "utf8");

describe("docs/proxy.md", () => {
  it("documents every toxic type with its attributes", () => {
    for (const [type, kind] of Object.entries(TOXIC_KINDS)) {
      const row = doc.split("\n").find((line) => line.startsWith(`| \`${type}\``));
      expect(row, type).toBeDefined();
      for (const attribute of Object.keys(kind.attributes))
        expect(row, `${type}.${attribute}`).toContain(`\`${attribute}\``);
    }
  });

  it("shows only --toxic specs that lab proxy accepts", () => {
    const specs = [...doc.matchAll(/--toxic ([^\s`]+)/g)]
      .map((m) => m[1] as string)
      .filter((s) => !s.startsWith("TYPE"));
    expect(specs.length).toBeGreaterThan(8);
    for (const text of specs) {
      const spec = parseToxicSpec(text);
      const streams = spec.stream === "both" ? ["upstream", "downstream"] : [spec.stream];
      for (const stream of streams) expect(() => normalizeToxic({ ...spec, stream }), text).not.toThrow();
    }
  });

  it("lists every --api-* limit of lab proxy with the default --help shows", () => {
    const proxy = buildProgram().commands.find((c) => c.name() === "proxy")!;
    const limits = proxy.options.filter((o) => o.long?.startsWith("--api-") && o.defaultValue !== undefined);
    expect(limits.length).toBe(6);
    for (const o of limits) {
      const row = doc.split("\n").find((line) => line.startsWith(`| \`${o.long} `));
      expect(row, o.long).toBeDefined();
      expect(row?.split("|")[2]?.trim(), o.long).toBe(String(o.defaultValue));
    }
  });
});
