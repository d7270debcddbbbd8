import { mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ChatServer } from "@netlab/chat";
import { startWatch } from "@netlab/watch";
import type { Report, Suite } from "../types.js";

/** Messages per second one sender pushes through a chat to one reader: lines in, lines out. */
async function chatRate(messages: number): Promise<number> {
  const chat = new ChatServer({ port: 0, floodMessages: Number.POSITIVE_INFINITY });
  await chat.socketServer.listen();
  const serving = chat.socketServer.serveForever();
  const port = chat.socketServer.address.port;
  const connect = () =>
    new Promise<net.Socket>((resolve) => {
      const s = net.connect({ host: "127.0.0.1", port }, () => resolve(s));
    });
  const reader = await connect();
  const sender = await connect();
  let seen = 0;
  let rest = "";
  const done = new Promise<void>((resolve) => {
    reader.setEncoding("utf8");
    reader.on("data", (chunk: string) => {
      const parts = (rest + chunk).split("\n");
      rest = parts.pop() ?? "";
      for (const p of parts) if (/ m\d+$/.test(p)) seen++;
      if (seen >= messages) resolve();
    });
  });
  // A client joins the lobby with its first line.
  reader.write("ready\n");
  sender.write("ready\n");
  await new Promise((r) => setTimeout(r, 200));
  const started = performance.now();
  const batch = 500;
  for (let i = 0; i < messages; i += batch) {
    let text = "";
    for (let j = i; j < Math.min(messages, i + batch); j++) text += `m${j}\n`;
    if (!sender.write(text)) await new Promise((r) => sender.once("drain", r));
  }
  await done;
  const rate = messages / ((performance.now() - started) / 1000);
  reader.destroy();
  sender.destroy();
  await chat.socketServer.shutdown();
  await serving;
  return rate;
}

/** `pnpm bench events`: chat throughput with `--events=FILE` against without, paired in one run. */
export const eventsSuite: Suite = {
  name: "events",
  description: "chat messages/s with an --events file against without (paired rounds)",
  async run(ctx) {
    const messages = Math.round(20_000 * ctx.scale);
    const dir = await mkdtemp(join(tmpdir(), "netlab-bench-events-"));
    const plain: number[] = [];
    const watched: number[] = [];
    try {
      for (let round = 0; round < 4; round++) {
        plain.push(await chatRate(messages));
        const watch = await startWatch({ events: { path: join(dir, `events-${round}.jsonl`) } });
        try {
          watched.push(await chatRate(messages));
        } finally {
          await watch.stop();
        }
        ctx.log(`round ${round + 1}: ${Math.round(plain.at(-1)!)} vs ${Math.round(watched.at(-1)!)} msg/s`);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const base = median(plain);
    const withEvents = median(watched);
    const report: Report = {
      title: "chat with --events=FILE",
      columns: ["run", "messages/s (median of 4)", "× without"],
      rows: [
        ["without --events", Math.round(base), "1.00"],
        ["--events=FILE", Math.round(withEvents), (withEvents / base).toFixed(2)],
      ],
      notes: [
        `${messages} messages from one sender to one reader per round; rounds alternate, same process.`,
        "Target: ≥ 0.90 × without (issue #19).",
      ],
    };
    return [report];
  },
};
