import { NetlabError } from "@netlab/core";

/** Codes a demo script can fail with. */
export type ScriptErrorCode = "BAD_SCRIPT" | "EXPECT_FAILED" | "NO_SUCH_CLIENT";

/**
 * A `--script` that cannot be parsed (BAD_SCRIPT, a usage error) or that failed while playing
 * (EXPECT_FAILED, NO_SUCH_CLIENT). The message names the script line.
 */
export class ScriptError extends NetlabError<ScriptErrorCode> {
  /** 1-based line in the script. */
  readonly line: number;

  constructor(code: ScriptErrorCode, line: number, message: string, hint?: string) {
    super(code, `script line ${line}: ${message}`, {
      hint: hint ?? "see docs/demo.md for the script language",
    });
    this.line = line;
  }
}

/** Codes `lab demo` itself can fail with (not a script's). */
export type DemoErrorCode = "REDIS_NOT_INSTALLED" | "REDIS_DID_NOT_START" | "NODE_ID_TAKEN";

/**
 * The demo could not set up its scene: `--cluster` without a URL and no `redis-server` to start, or
 * a node named as one of the demo's is already in the cluster given.
 */
export class DemoError extends NetlabError<DemoErrorCode> {}
