import type { ReceivedDatagram } from "@netlab/udp";
import type { Command } from "commander";
import { exposureWarning, familyHelp, udpAddress } from "../address.js";
import { addLogOptions, createLogger, type LogOpts } from "../log.js";
import { action, ExitCode } from "../run.js";
import { EXIT_INTERRUPTED } from "../signals.js";
import {
  out,
  outJson,
  parseCount,
  payloadJson,
  RECV_BUFFER_OPTION,
  recvBufferSize,
  untilSignal,
} from "./udp-shared.js";

/** `lab udp listen`: prints every datagram that arrives, and who sent it. */
export function registerUdpListen(udp: Command): void {
  const cmd = udp
    .command("listen")
    .description("print every datagram that arrives, and who sent it (recvfrom)")
    .option("--host <host>", "address to bind", "127.0.0.1")
    .option("-p, --port <port>", "UDP port (0 = any free port)", "0")
    .option("-4, --ipv4", "listen over IPv4 only")
    .option("-6, --ipv6", familyHelp("listen"))
    .option("-c, --count <n>", "exit after n datagrams")
    .option(...RECV_BUFFER_OPTION)
    .option("--json", "one JSON object per datagram");
  // Datagrams are its output (stdout); the log (stderr) has no per-datagram detail for a -v.
  addLogOptions(cmd)
    .addHelpText(
      "after",
      `
Examples:
  lab udp listen --port 9999           then: lab udp send 127.0.0.1:9999 hi
  lab udp listen --port 9999 -c 1 --json

Prints 'FROM_ADDR:PORT  N bytes  text' per datagram (hex when it holds control bytes or is not
UTF-8; C1 controls, bidi overrides and line separators shown as <U+XXXX>, never obeyed). --json
keeps the exact text. Its own lines ('listening on udp …', 'stopped after …') go to stderr as every
server's log (-q, --log-format; docs/logging.md); bound beyond loopback, it says once who can
reach it (docs/security.md). Ctrl-C stops it (exit 0).`,
    )
    .action(action(async (opts: ListenOpts) => runListen(opts)));
}

interface ListenOpts extends LogOpts {
  host: string;
  port: string;
  ipv4?: boolean;
  ipv6?: boolean;
  count?: string;
  recvBuffer?: string;
  json?: boolean;
}

async function runListen(o: ListenOpts): Promise<void> {
  const log = createLogger(o);
  const { host, port } = udpAddress("lab udp listen", "listen", o);
  const count = o.count === undefined ? Number.POSITIVE_INFINITY : parseCount("-c", o.count);
  const udp = await import("@netlab/udp");
  const listener = new udp.UdpListener({ host, port, recvBufferSize: recvBufferSize(o.recvBuffer) });
  listener.on("datagram", (d: ReceivedDatagram) => {
    if (d.index > count) return;
    const from = udp.formatHostPort(d.peer.address, d.peer.port);
    if (o.json) {
      outJson({
        from,
        address: d.peer.address,
        port: d.peer.port,
        bytes: d.packet.length,
        ...payloadJson(d.packet, udp.viewPayload),
      });
    } else {
      out(udp.formatDatagram(from, d.packet));
    }
    if (d.index === count) void listener.shutdown();
  });
  await listener.listen();
  const ready = () => {
    const address = udp.formatHostPort(listener.address.host, listener.address.port);
    log.ready(`listening on udp ${address}`, { event: "listening", address });
    const exposed = exposureWarning(listener.address, "send it datagrams, which it prints", "");
    if (exposed) log.warn(exposed, { event: "exposed" });
  };
  await untilSignal(listener, ready, log);
  const n = Math.min(listener.datagrams, count);
  log.info(`stopped after ${n} datagram${n === 1 ? "" : "s"}`);
  // With -c N the job is N datagrams: stopped before them, it was interrupted (130), as udp ping.
  if (n < count && Number.isFinite(count)) throw new ExitCode(EXIT_INTERRUPTED);
}
