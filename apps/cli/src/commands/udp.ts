import type { Command } from "commander";
import { registerUdpEcho } from "./udp-echo.js";
import { registerUdpListen } from "./udp-listen.js";
import { registerUdpPing } from "./udp-ping.js";
import { registerUdpSend } from "./udp-send.js";

/** `lab udp echo|ping|send|listen`: the classic UDP pinger lab, with a network emulator. */
export function registerUdp(program: Command): void {
  const udp = program
    .command("udp")
    .description("UDP: an echo server with a network emulator, a pinger, and one-off datagrams")
    .addHelpText(
      "after",
      `
Examples:
  lab udp echo --port 5003 --loss 0.3 --delay 20ms echo server that drops 30% and delays 20 ms
  lab udp ping -c 10 --interval 0.2 -W 1 --size 64 ping it: one line per probe, then a summary
  lab udp listen --port 9999                        print each datagram and who sent it
  lab udp send 127.0.0.1:9999 hello                 send one datagram`,
    );

  registerUdpEcho(udp);
  registerUdpPing(udp);
  registerUdpSend(udp);
  registerUdpListen(udp);
}
