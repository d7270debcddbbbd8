import { REPLY_LIMIT_DEFAULTS } from "@netlab/udp";
import { describe, expect, it } from "vitest";
import { REPLY_LIMIT_TEXT, replyLimits } from "../src/commands/udp-shared.js";

describe("the CLI's reply-limit defaults", () => {
  it("are @netlab/udp's, as --help shows them (lab udp echo, lab proxy --udp, lab demo's warning)", () => {
    const parsed = replyLimits(
      {
        replyRate: REPLY_LIMIT_TEXT.rate,
        replyBurst: REPLY_LIMIT_TEXT.burst,
        maxReplySources: REPLY_LIMIT_TEXT.sources,
      },
      "lab udp echo --reply-rate 1MiB/s",
    );
    expect(parsed).toEqual({
      maxReplyBytesPerSecond: REPLY_LIMIT_DEFAULTS.maxReplyBytesPerSecond,
      replyBurstBytes: REPLY_LIMIT_DEFAULTS.replyBurstBytes,
      maxReplySources: REPLY_LIMIT_DEFAULTS.maxReplySources,
    });
  });
});
