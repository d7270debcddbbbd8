import net from "node:net";
import { describe, expect, it, onTestFinished } from "vitest";
import { chatFactory } from "../src/chat-factory.js";
import { LabController } from "../src/controller.js";
import type { LabSnapshot } from "../src/model.js";
import { paneLines, waitFor } from "../src/player.js";

async function startLab(clients = 3): Promise<LabController> {
  const lab = new LabController(chatFactory, { clients, statsIntervalMs: 100 });
  onTestFinished(() => lab.close());
  await lab.start();
  await expectSoon(lab, (s) => s.clients.every((c) => c.state === "connected" && c.room !== undefined));
  return lab;
}

async function expectSoon(lab: LabController, predicate: (s: LabSnapshot) => boolean, what = "condition") {
  const ok = await waitFor(lab, predicate, 5000);
  if (!ok)
    throw new Error(
      `timed out waiting for ${what}; snapshot:\n${JSON.stringify(lab.getSnapshot(), null, 1)}`,
    );
}

const shows = (target: number | "server", text: string) => (s: LabSnapshot) =>
  paneLines(s, target).some((l) => l.text.includes(text));

/** Whether something can listen on 127.0.0.1:port right now. */
function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

describe("LabController over real sockets", () => {
  it("starts a server on a free port and connects every client with its own nick", async () => {
    const lab = await startLab(3);
    const s = lab.getSnapshot();
    expect(s.server.status).toBe("listening");
    expect(s.server.port).toBeGreaterThan(0);
    expect(s.clients.map((c) => c.nick)).toEqual(["alice", "bob", "carol"]);
    expect(s.server.log[0]?.text).toBe(`listening on 127.0.0.1:${s.server.port}`);
    await expectSoon(lab, (x) => x.server.peers.length === 3, "three peers");
  });

  it("delivers a line typed in one client to every other client", async () => {
    const lab = await startLab(3);
    lab.send(2, "hello from bob");
    for (const id of [1, 2, 3]) await expectSoon(lab, shows(id, "<bob> hello from bob"), `client ${id}`);
    await expectSoon(lab, (s) => s.server.messagesTotal >= 1, "the message counted");
  });

  it("shows the outage and the reconnection when the server restarts on the same port", async () => {
    const lab = await startLab(2);
    const port = lab.getSnapshot().server.port;
    await lab.restartServer();
    expect(lab.getSnapshot().server.port).toBe(port);
    for (const id of [1, 2]) {
      await expectSoon(lab, shows(id, "reconnecting"), `client ${id} outage`);
      await expectSoon(lab, shows(id, "* reconnected"), `client ${id} back`);
    }
    await expectSoon(lab, shows("server", "restarting"));
    lab.send(1, "still here");
    await expectSoon(lab, shows(2, "<alice> still here"), "a message after the restart");
  });

  it("drops a client's connection and connects it again with the same nick", async () => {
    const lab = await startLab(2);
    await lab.dropClient(2);
    expect(lab.getSnapshot().clients[1]?.state).toBe("closed");
    await expectSoon(lab, (s) => s.server.peers.length === 1, "the server to see one peer");
    lab.send(2, "anyone?");
    expect(paneLines(lab.getSnapshot(), 2).at(-1)?.text).toMatch(/not connected/);
    await lab.reconnectClient(2);
    await expectSoon(lab, (s) => s.clients[1]?.state === "connected" && s.clients[1]?.nick === "bob");
    await expectSoon(lab, shows(2, "* reconnected"));
  });

  it("closes a client that types /quit instead of letting it reconnect", async () => {
    const lab = await startLab(2);
    lab.send(1, "/quit");
    await expectSoon(
      lab,
      (s) => s.clients[0]?.state === "closed" && s.server.peers.length === 1,
      "client 1 gone",
    );
    expect(paneLines(lab.getSnapshot(), 1).map((l) => l.text)).toContain("* dropping the connection");
  });

  it("adds clients up to six and refuses a seventh with a note in the server log", async () => {
    const lab = await startLab(5);
    expect(await lab.addClient()).toBe(6);
    await expectSoon(lab, (s) => s.clients[5]?.state === "connected", "client 6");
    await lab.addClient();
    expect(lab.getSnapshot().clients).toHaveLength(6);
    await expectSoon(lab, shows("server", "at most 6 clients"));
  });

  it("records the bytes each way on a client's wire and publishes them while watched", async () => {
    const lab = await startLab(2);
    lab.send(1, "wire check");
    await expectSoon(lab, shows(1, "<alice> wire check"));
    expect(lab.getSnapshot().clients[0]!.wire).toEqual([]); // not watched: no frames for it
    lab.watchWire(1);
    const wire = lab.getSnapshot().clients[0]!.wire;
    expect(wire).toEqual(lab.wireOf(1).wire);
    const out = Buffer.concat(wire.filter((c) => c.direction === "out").map((c) => c.bytes)).toString();
    expect(out).toContain('"wire check"');
    expect(wire.some((c) => c.direction === "in" && c.bytes.includes(0x0a))).toBe(true);
  });

  it("keeps every client in JSON mode with its own nick when the event loop is busy right after start", async () => {
    // Ink's first render can hold the loop for a few hundred ms while the server's banner waits.
    const lab = new LabController(chatFactory, { clients: 3 });
    onTestFinished(() => lab.close());
    const started = lab.start();
    const until = Date.now() + 600;
    while (Date.now() < until) {
      // busy, as a first render under load is
    }
    await started;
    await expectSoon(lab, (s) => s.clients.every((c) => c.room === "#lobby"), "everyone in #lobby");
    expect(lab.getSnapshot().clients.map((c) => c.nick)).toEqual(["alice", "bob", "carol"]);
  });

  it("puts exposure's warning for the address bound in the server log, after the listening line, on each start", async () => {
    // lab demo --host 0.0.0.0 said nothing of who else could join: a line on stderr would vanish
    // behind the alternate screen, so the warning is the server pane's.
    const hosts: string[] = [];
    const lab = new LabController(chatFactory, {
      clients: 1,
      exposure: (host) => {
        hosts.push(host);
        return `${host} is reachable`;
      },
    });
    onTestFinished(() => lab.close());
    await lab.start();
    const log = () => lab.getSnapshot().server.log.map((l) => [l.kind, l.text]);
    expect(log().slice(0, 2)).toEqual([
      ["info", expect.stringMatching(/^listening on 127\.0\.0\.1:\d+$/)],
      ["warn", "warning: 127.0.0.1 is reachable"],
    ]);
    await lab.restartServer();
    expect(hosts).toEqual(["127.0.0.1", "127.0.0.1"]);
    expect(log().filter(([kind]) => kind === "warn")).toHaveLength(2);
  });

  it("frees the port and closes every client on close", async () => {
    const lab = await startLab(3);
    const port = lab.getSnapshot().server.port;
    await lab.close();
    const s = lab.getSnapshot();
    expect(s.server.status).toBe("stopped");
    expect(s.clients.every((c) => c.state === "closed")).toBe(true);
    expect(await canListen(port)).toBe(true);
    await lab.close(); // twice is harmless
  });
});
