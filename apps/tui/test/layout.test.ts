import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { computeLayout, MIN_CLIENT_HEIGHT, MIN_COLUMNS } from "../src/layout.js";

describe("computeLayout", () => {
  it("puts three clients in one row at 80×24 with the server below", () => {
    const l = computeLayout(80, 24, 3);
    if (l.kind !== "ok") throw new Error("expected a layout");
    expect(l.perRow).toBe(3);
    expect(l.gridRows).toBe(1);
    expect(l.clients.map((c) => c.width)).toEqual([26, 26, 28]);
    expect(l.server.width).toBe(80);
  });

  it("wraps six clients into two rows at 80×24", () => {
    const l = computeLayout(80, 24, 6);
    if (l.kind !== "ok") throw new Error("expected a layout");
    expect([l.perRow, l.gridRows]).toEqual([3, 2]);
  });

  it("asks for a size that fits when the terminal is too small", () => {
    expect(computeLayout(50, 20, 3)).toMatchObject({ kind: "too-small", needColumns: MIN_COLUMNS });
    const low = computeLayout(80, 10, 3);
    expect(low.kind).toBe("too-small");
    if (low.kind === "too-small") expect(computeLayout(low.needColumns, low.needRows, 3).kind).toBe("ok");
  });

  it("puts the wire view beside the server when wide, in its place when narrow", () => {
    const wide = computeLayout(160, 40, 3, { wire: true });
    const narrow = computeLayout(100, 30, 3, { wire: true });
    if (wide.kind !== "ok" || narrow.kind !== "ok") throw new Error("expected layouts");
    expect(wide.server.width + (wide.wire?.width ?? 0)).toBe(160);
    expect(wide.server.width).toBeGreaterThanOrEqual(56);
    expect(narrow.server.width).toBe(0);
    expect(narrow.wire?.width).toBe(100);
  });

  it("always fills the frame exactly, or says the size it needs", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 20, max: 300 }),
        fc.integer({ min: 8, max: 120 }),
        fc.integer({ min: 1, max: 6 }),
        fc.boolean(),
        (columns, rows, clients, wire) => {
          const l = computeLayout(columns, rows, clients, { wire });
          if (l.kind === "too-small") {
            const fits = computeLayout(l.needColumns, l.needRows, clients, { wire });
            expect(fits.kind).toBe("ok");
            return;
          }
          expect(l.clients).toHaveLength(clients);
          for (let r = 0; r < l.gridRows; r++) {
            const row = l.clients.slice(r * l.perRow, (r + 1) * l.perRow);
            expect(row.reduce((n, c) => n + c.width, 0)).toBe(columns);
          }
          const clientRows = l.gridRows * (l.clients[0]?.height ?? 0);
          expect(l.clients.every((c) => c.height >= MIN_CLIENT_HEIGHT)).toBe(true);
          expect(1 + clientRows + l.server.height + 1).toBe(rows - 1);
        },
      ),
      { numRuns: 300 },
    );
  });
});
