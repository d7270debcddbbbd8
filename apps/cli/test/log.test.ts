import { describe, expect, it } from "vitest";
import { createLogger, Logger, type LogLevel } from "../src/log.js";

const AT = new Date("2026-12-06T11:48:42.123Z");

function capture(format: "text" | "json" | "plain", level: LogLevel = "info") {
  const lines: string[] = [];
  const log = new Logger({ format, level, write: (line) => lines.push(line), now: () => AT });
  return { log, lines };
}

describe("Logger (every server's log)", () => {
  it("#20: text is 'RFC 3339 UTC ms, level padded to 5, message', one line per event", () => {
    const { log, lines } = capture("text");
    log.info("listening on 127.0.0.1:5001 (chat)");
    log.warn("refuse 127.0.0.1:4000: server full");
    log.error("a\nforged line \u001b[2J");
    expect(lines).toEqual([
      "2026-12-06T11:48:42.123Z info  listening on 127.0.0.1:5001 (chat)\n",
      "2026-12-06T11:48:42.123Z warn  refuse 127.0.0.1:4000: server full\n",
      "2026-12-06T11:48:42.123Z error a^Jforged line ^[[2J\n",
    ]);
  });

  it("#20: the level hides what is below it; ready lines show at every level", () => {
    const quiet = capture("plain", "warn");
    quiet.log.debug("d");
    quiet.log.info("i");
    quiet.log.ready("listening");
    quiet.log.warn("w");
    quiet.log.error("e");
    expect(quiet.lines).toEqual(["listening\n", "w\n", "e\n"]);
    const verbose = capture("plain", "debug");
    verbose.log.debug("d");
    expect(verbose.lines).toEqual(["d\n"]);
    expect(verbose.log.isVerbose).toBe(true);
  });

  it("#20: json keeps the exact text and writes C1, DEL and bidi characters as \\u escapes", () => {
    const { log, lines } = capture("json");
    const name = "evil\u202etxt\u009b2J\u007f\u2028\u001b";
    log.warn(`refused upload of ${name}`, { name, bytes: 3, gone: undefined });
    const line = lines[0]!;
    expect(line).not.toMatch(/[\u001b\u007f\u009b\u202e\u2028]/);
    expect(line).toContain("\\u202e");
    expect(JSON.parse(line)).toEqual({
      ts: "2026-12-06T11:48:42.123Z",
      level: "warn",
      msg: `refused upload of ${name}`,
      name,
      bytes: 3,
    });
  });

  it("#20: createLogger maps -v/-q and refuses a bad format or both flags (usage errors)", () => {
    expect(createLogger({}).level).toBe("info");
    expect(createLogger({ verbose: true }).level).toBe("debug");
    expect(createLogger({ quiet: true, logFormat: "json" })).toMatchObject({ level: "warn", format: "json" });
    expect(() => createLogger({ logFormat: "xml" })).toThrow(/unknown --log-format "xml"/);
    expect(() => createLogger({ verbose: true, quiet: true })).toThrow(/-v and -q/);
  });
});
