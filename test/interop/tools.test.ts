import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";

// The interop suite drives real third-party peers; this guards that CI installed them.
describe("interop prerequisites", () => {
  it.each(["nc", "python3", "ncat", "socat", "openssl"])("has %s on PATH", (tool) => {
    const r = spawnSync("sh", ["-c", `command -v ${tool}`]);
    expect(r.status, `${tool} is missing: apt-get install it (see .ci/run)`).toBe(0);
  });
});
