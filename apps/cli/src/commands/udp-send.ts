import { plural } from "@netlab/core/units";
import type { Command } from "commander";
import { parseDuration } from "../options.js";
import { action, ExitCode, UsageError } from "../run.js";
import { EXIT_INTERRUPTED } from "../signals.js";
import {
  log,
  MAX_PAYLOAD,
  MAX_SECONDS,
  onSignals,
  out,
  outJson,
  payloadJson,
  readStdin,
  usage,
} from "./udp-shared.js";

/** `lab udp send`: one datagram (sendto), and optionally its reply. */
export function registerUdpSend(udp: Command): void {
  udp
    .command("send")
    .description("send one datagram (sendto), and optionally wait for a reply")
    .argument("<target>", "HOST:PORT to send to, e.g. 127.0.0.1:5003 or [::1]:5003")
    .argument("[text]", "what to send (default: standard input)")
    .option("--wait <time>", "wait this long for a reply and print it (exit 1 if none); 1 = 1s")
    .option("--json", "print what happened as JSON")
    .addHelpText(
      "after",
      `
Examples:
  lab udp send 127.0.0.1:5003 hello --wait 1      prints the echo: '127.0.0.1:5003  5 bytes  hello'
  printf 'raw\\x00bytes' | lab udp send 127.0.0.1:9999

At most ${MAX_PAYLOAD} bytes. Without --wait it only sends (UDP has no delivery receipt).
Ctrl-C while waiting exits 130.`,
    )
    .action(
      action(async (target: string, text: string | undefined, opts: SendOpts) => runSend(target, text, opts)),
    );
}

interface SendOpts {
  wait?: string;
  json?: boolean;
}

async function runSend(target: string, text: string | undefined, o: SendOpts): Promise<void> {
  const udp = await import("@netlab/udp");
  const { host, port } = usage(() => udp.parseHostPort(target));
  const waitS =
    o.wait === undefined
      ? 0
      : parseDuration("--wait", o.wait, { minMs: 1, maxMs: MAX_SECONDS * 1000 }) / 1000;
  const data = text !== undefined ? Buffer.from(text) : await readStdin();
  if (text === undefined && data.length > MAX_PAYLOAD) {
    // readStdin stops one chunk past the limit: how much more there was is not known.
    throw new UsageError(
      `standard input holds more than ${MAX_PAYLOAD} bytes, too many for one datagram`,
      `send at most ${MAX_PAYLOAD} bytes (UDP carries no more)`,
    );
  }
  if (data.length > MAX_PAYLOAD) {
    throw new UsageError(
      `${data.length} bytes is too large for one datagram: UDP carries at most ${MAX_PAYLOAD} bytes`,
      `send at most ${MAX_PAYLOAD} bytes`,
    );
  }
  const controller = new AbortController();
  const stop = onSignals(() => controller.abort());
  try {
    const result = await udp
      .sendDatagram({
        host,
        port,
        data,
        waitMs: waitS * 1000,
        signal: controller.signal,
      })
      .catch((err: unknown) => {
        if (controller.signal.aborted) throw new ExitCode(EXIT_INTERRUPTED);
        // --json prints a report even when nothing came back: the datagram went, no reply did.
        if (o.json && (err as { code?: unknown }).code === "NO_REPLY") {
          outJson({ to: udp.formatHostPort(host, port), from: null, bytes: data.length, reply: null });
        }
        throw err;
      });
    const to = udp.formatHostPort(host, port);
    if (o.json) {
      const reply = result.reply && {
        from: result.reply.from,
        bytes: result.reply.packet.length,
        rttMs: result.reply.rttMs,
        ...payloadJson(result.reply.packet, udp.viewPayload),
      };
      outJson({ to, from: result.local, bytes: result.bytes, reply: reply ?? null });
    } else {
      log(`sent ${plural(result.bytes, "byte")} to ${to} from ${result.local}`);
      if (result.reply) out(udp.formatDatagram(result.reply.from, result.reply.packet));
    }
  } finally {
    stop();
  }
}
