/**
 * The UDP pinger lab in one process: a UdpEchoServer that drops 30% of datagrams and delays the
 * rest 20 ms ± 5 ms (seeded, so every run is the same), and ping() iterating what happens to each
 * probe, then the summary as `ping` prints it. Late replies, duplicates and timeouts are events.
 * Run: lab examples run udp-pinger
 */
import { formatRtt, formatSummary, ping, UdpEchoServer } from "@netlab/udp";

const server = new UdpEchoServer({
  host: "127.0.0.1",
  port: 0,
  lossRate: 0.3,
  delayMs: 20,
  jitterMs: 5,
  seed: 7,
});
server.on("datagram", (d) => {
  if (d.fate.dropped) console.log(`server: dropped datagram #${d.index}`);
});
await server.listen();
const serving = server.serveForever();

const pinger = ping({ port: server.address.port, count: 10, intervalMs: 50, timeoutMs: 200 });
for await (const e of pinger) {
  if (e.type === "reply") console.log(`seq=${e.seq} bytes=${e.bytes} time=${formatRtt(e.rttMs)} ms`);
  else if (e.type === "timeout") console.log(`seq=${e.seq} timeout`);
}
console.log(formatSummary(pinger.summary).join("\n"));

await server.shutdown();
await serving;
