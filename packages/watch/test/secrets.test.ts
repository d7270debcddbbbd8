import { describe, expect, it } from "vitest";
import { parseSession, restoreSessionSecrets, type Session } from "../src/index.js";

const b64 = (s: string) => Buffer.from(s).toString("base64");
const text = (s: Session, i: number) =>
  Buffer.from((s.records[i] as { b64: string }).b64, "base64").toString();

/** A client recording: per connection, the client's chunks, and a server line between them. */
function session(conns: string[][]): Session {
  const lines = [JSON.stringify({ netlab: "session", v: 1, ts: 0, side: "client", command: "lab client" })];
  let t = 0;
  for (const [i, chunks] of conns.entries()) {
    const conn = i + 1;
    lines.push(
      JSON.stringify({
        type: "open",
        t: t++,
        conn,
        transport: "tcp",
        client: "127.0.0.1:1",
        server: "127.0.0.1:2",
      }),
    );
    for (const c of chunks) {
      lines.push(JSON.stringify({ type: "data", t: t++, conn, from: "client", b64: b64(c) }));
      lines.push(
        JSON.stringify({ type: "data", t: t++, conn, from: "server", b64: b64('{"token":"***"}\n') }),
      );
    }
  }
  return parseSession(`${lines.join("\n")}\n`);
}

describe("restoreSessionSecrets", () => {
  it("counts masked secrets by kind in what one side sent, per connection, and returns the session as is without a token", () => {
    const s = session([['{"type":"hello","tok', 'en":"*****","reclaim":"****"}\n'], ["/auth ***\n"]]);
    const r = restoreSessionSecrets(s, { side: "client" });
    expect(r.masked).toEqual({ auth: 1, token: 1, reclaim: 1 });
    expect(r.restored).toBe(0);
    expect(r.session).toBe(s);
    // The server's side has a masked token of its own: counted only when that side is sent.
    expect(restoreSessionSecrets(s, { side: "server" }).masked).toEqual({ auth: 0, token: 3, reclaim: 0 });
  });

  it("puts the token in each masked /auth and token (split across records too), never in a reclaim or the other side", () => {
    const s = session([['{"type":"hello","token":"**', '***","reclaim":"****"}\n'], ["/auth ***\r\n"]]);
    const r = restoreSessionSecrets(s, { side: "client", token: "T0k" });
    expect(r.restored).toBe(2);
    // Records: open, client, server, client, server, open, client, server.
    expect(text(r.session, 1)).toBe('{"type":"hello","token":"T0k');
    expect(text(r.session, 3)).toBe('","reclaim":"****"}\n');
    expect(text(r.session, 6)).toBe("/auth T0k\r\n");
    expect(text(r.session, 2)).toBe('{"token":"***"}\n');
    // The recording read is not changed.
    expect(text(s, 1)).toBe('{"type":"hello","token":"**');
  });
});
