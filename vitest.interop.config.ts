import { defineConfig } from "vitest/config";
import { shared } from "./vitest.shared.js";

export default defineConfig({
  ...shared,
  test: {
    include: ["test/interop/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 30_000,
  },
});
