import { defineConfig } from "vitest/config";
import { shared } from "./vitest.shared.js";

/**
 * Unit tests that bind every interface (`::`, `0.0.0.0`). They run only inside a network namespace
 * of their own, which their package's ordinary test starts (`unshare -rn`, see
 * packages/socketserver/test/address.test.ts); each file refuses to run anywhere else.
 */
export default defineConfig({
  ...shared,
  test: {
    include: ["packages/*/test/netns/**/*.netns.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
