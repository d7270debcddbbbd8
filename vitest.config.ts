import { defineConfig } from "vitest/config";
import { shared } from "./vitest.shared.js";

export default defineConfig({
  ...shared,
  test: {
    include: [
      "packages/*/test/**/*.test.{ts,tsx}",
      "apps/*/test/**/*.test.{ts,tsx}",
      "examples/test/**/*.test.ts",
      "test/e2e/**/*.test.ts",
      "test/adversarial/**/*.test.ts",
    ],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    teardownTimeout: 10_000,
  },
});
