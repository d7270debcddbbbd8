import type { ViteUserConfig } from "vitest/config";

/** Settings every vitest config shares: source resolution and honest timeouts. */
export const shared: ViteUserConfig = {
  resolve: { conditions: ["@netlab/source"] },
  ssr: { resolve: { conditions: ["@netlab/source"] } },
};
