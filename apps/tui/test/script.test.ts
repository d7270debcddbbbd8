import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ScriptError } from "../src/errors.js";
import { parseScript } from "../src/script.js";

function parseError(text: string): ScriptError {
  try {
    parseScript(text);
  } catch (err) {
    if (err instanceof ScriptError) return err;
    throw err;
  }
  throw new Error("expected a ScriptError");
}

describe("parseScript", () => {
  it("parses every command, skipping comments and blank lines", () => {
    const script = parseScript(
      [
        "# a lesson",
        "clients 4",
        "",
        "client 2: hello #lobby",
        "wait 100   # a pause",
        "expect client 3: hello",
        "expect server: bob joined",
        "restart server",
        "add client",
        "drop client 1",
        "reconnect client 1",
      ].join("\n"),
    );
    expect(script.clients).toBe(4);
    expect(script.steps).toEqual([
      { line: 4, kind: "send", client: 2, text: "hello #lobby" },
      { line: 5, kind: "wait", ms: 100 },
      { line: 6, kind: "expect", target: 3, text: "hello" },
      { line: 7, kind: "expect", target: "server", text: "bob joined" },
      { line: 8, kind: "restart" },
      { line: 9, kind: "add" },
      { line: 10, kind: "drop", client: 1 },
      { line: 11, kind: "reconnect", client: 1 },
    ]);
  });

  it("keeps /commands as typed", () => {
    expect(parseScript("client 1: /join #x").steps[0]).toMatchObject({ text: "/join #x" });
  });

  it.each([
    ["shout hi", 1, 'unknown command "shout"'],
    ["client 1: hi\nclient 9: hi", 2, "client numbers are 1..6, got 9"],
    ["client x: hi", 1, 'client needs a whole number, got "x"'],
    ["client 1:", 1, 'nothing to type after "client 1:"'],
    ["wait soon", 1, 'wait needs a whole number, got "soon"'],
    ["wait 999999", 1, "wait is at most 60000 ms"],
    ["restart client", 1, 'did you mean "restart server"'],
    ["drop client", 1, 'did you mean "drop client N"'],
    ["expect client 2:", 1, "expect needs text to look for"],
    ["clients 7", 1, "clients must be 1..6, got 7"],
    ["client 1: hi\nclients 2", 2, '"clients" must come before every other command'],
  ])("rejects %j at line %i: %s", (text, line, message) => {
    const err = parseError(text);
    expect(err.code).toBe("BAD_SCRIPT");
    expect(err.line).toBe(line);
    expect(err.message).toContain(`script line ${line}: `);
    expect(err.message).toContain(message);
    expect(err.hint).toBeTruthy();
  });

  it("types any text exactly as written after `client N: ` (surrounding blanks trimmed)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc
          .string({ minLength: 1, maxLength: 40 })
          .filter((s) => !/[\r\n]/.test(s) && s.trim() !== "" && s.trim() === s),
        (client, text) => {
          expect(parseScript(`client ${client}: ${text}`).steps).toEqual([
            { line: 1, kind: "send", client, text },
          ]);
        },
      ),
    );
  });
});
