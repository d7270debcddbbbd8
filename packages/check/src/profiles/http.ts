import { readFileSync } from "node:fs";
import path from "node:path";
import type { Conn } from "../conn.js";
import { CheckError } from "../errors.js";
import { fail, firstDifference } from "../failure.js";
import { showBytes } from "../hex.js";
import { word } from "../random.js";
import type { CheckTest, Profile, TestContext } from "../types.js";

/** Longest response head read, bytes. */
const MAX_HEAD_BYTES = 64 * 1024;

/** The files the http profile fetches, relative to the served folder. */
export const HTTP_FILES = { text: "hello.txt", binary: "bytes.bin" } as const;

interface Response {
  version: string;
  status: number;
  headers: Map<string, string>;
  body: Buffer;
  /** Where the head began in the connection's received bytes. */
  at: number;
}

/** Reads one response: status line, headers, then a body by Content-Length, chunks, or to EOF. */
async function readResponse(
  conn: Conn,
  timeoutMs: number,
  what: string,
  bodyless = false,
): Promise<Response> {
  const at = conn.pos;
  const headEnd = await conn.waitFor(
    what,
    () => {
      const i = conn.received.indexOf("\r\n\r\n", conn.pos);
      if (i >= 0) return i;
      if (conn.received.length - conn.pos > MAX_HEAD_BYTES || conn.end !== "open") return -1;
      return undefined;
    },
    timeoutMs,
  );
  if (headEnd < 0) {
    fail({
      expected: what,
      observed:
        conn.end === "open"
          ? "a head over 64 KiB"
          : `the connection ${conn.end} before a whole response head`,
      conn,
      at,
    });
  }
  const head = conn.received.subarray(conn.pos, headEnd).toString("latin1").split("\r\n");
  conn.pos = headEnd + 4;
  const status = /^(HTTP\/\d\.\d) (\d{3})/.exec(head[0] ?? "");
  if (!status)
    fail({
      expected: "a status line like HTTP/1.1 200 OK",
      observed: showBytes(Buffer.from(head[0] ?? "", "latin1")),
      conn,
      at,
    });
  const headers = new Map<string, string>();
  for (const h of head.slice(1)) {
    const colon = h.indexOf(":");
    if (colon > 0) headers.set(h.slice(0, colon).trim().toLowerCase(), h.slice(colon + 1).trim());
  }
  const code = Number(status[2]);
  let body: Buffer = Buffer.alloc(0);
  if (!bodyless && code !== 204 && code !== 304) {
    const length = headers.get("content-length");
    if (length !== undefined) {
      body = await conn.readBytes(Number(length), timeoutMs, `the ${length}-byte body`);
    } else if (/chunked/i.test(headers.get("transfer-encoding") ?? "")) {
      const parts: Buffer[] = [];
      for (;;) {
        const sizeLine = await conn.readLine(timeoutMs, "a chunk size");
        const size = Number.parseInt(sizeLine?.toString("latin1") ?? "", 16);
        if (!Number.isFinite(size)) fail({ expected: "a chunk size line", observed: "something else", conn });
        if (size === 0) {
          await conn.readLine(timeoutMs, "the end of the chunks");
          break;
        }
        parts.push(await conn.readBytes(size, timeoutMs, "a chunk"));
        await conn.readLine(timeoutMs, "a chunk's CRLF");
      }
      body = Buffer.concat(parts);
    } else {
      await conn.waitEnd(timeoutMs, "the body to end at EOF (no Content-Length)");
      body = conn.received.subarray(conn.pos);
      conn.pos = conn.received.length;
    }
  }
  return { version: status[1] as string, status: code, headers, body, at };
}

function request(method: string, target: string, close = true): string {
  return `${method} ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: netlab-check\r\n${close ? "Connection: close\r\n" : ""}\r\n`;
}

function files(ctx: TestContext): { text: Buffer; binary: Buffer } {
  return ctx.state.files as { text: Buffer; binary: Buffer };
}

async function get(ctx: TestContext, name: string, body: Buffer): Promise<void> {
  const conn = await ctx.open("client");
  await conn.write(request("GET", `/${name}`));
  const r = await readResponse(conn, 3_000, `the response to GET /${name}`);
  if (r.status !== 200) fail({ expected: `200 for /${name}`, observed: `${r.status}`, conn, at: r.at });
  const at = firstDifference(r.body, body);
  if (at >= 0) {
    fail({
      expected: `the ${body.length} bytes of ${name}`,
      observed: r.body.length !== body.length ? `${r.body.length} bytes` : `a difference at byte ${at}`,
      conn,
      at: conn.pos - r.body.length + Math.max(0, at),
    });
  }
}

const tests: CheckTest[] = [
  {
    id: "http.get-text",
    title: "GET of a text file answers 200 with its exact bytes",
    timeoutMs: 4_000,
    hint: "status line, headers (Content-Length), a blank line, then the file; \\r\\n line endings",
    run: (ctx) => get(ctx, HTTP_FILES.text, files(ctx).text),
  },
  {
    id: "http.get-binary",
    title: "GET of a binary file answers 200 with its exact bytes (all 256 values)",
    timeoutMs: 4_000,
    hint: "open files in binary mode ('rb') and send bytes; never decode them as text",
    run: (ctx) => get(ctx, HTTP_FILES.binary, files(ctx).binary),
  },
  {
    id: "http.not-found",
    title: "GET of a missing file answers 404",
    timeoutMs: 4_000,
    hint: "catch FileNotFoundError and answer 404 Not Found (with a small body)",
    async run(ctx) {
      const conn = await ctx.open("client");
      await conn.write(request("GET", `/no-such-file-${word(ctx.random, 8)}.txt`));
      const r = await readResponse(conn, 3_000, "the response to a GET of a missing file");
      if (r.status !== 404) fail({ expected: "404", observed: `${r.status}`, conn, at: r.at });
    },
  },
  {
    id: "http.head",
    title: "HEAD answers like GET but without a body",
    timeoutMs: 4_000,
    hint: "for HEAD send the status line and headers only; Content-Length is still the file's size",
    async run(ctx) {
      const conn = await ctx.open("client");
      await conn.write(request("HEAD", `/${HTTP_FILES.text}`));
      const r = await readResponse(conn, 3_000, "the response to HEAD", true);
      if (r.status !== 200) fail({ expected: "200", observed: `${r.status}`, conn, at: r.at });
      const length = r.headers.get("content-length");
      const size = files(ctx).text.length;
      if (length !== undefined && Number(length) !== size)
        fail({ expected: `Content-Length: ${size}`, observed: `Content-Length: ${length}`, conn, at: r.at });
      await conn.waitEnd(
        2_000,
        "the connection to close after the HEAD response (we sent Connection: close)",
      );
      if (conn.received.length > conn.pos) {
        fail({
          expected: "no body after a HEAD response",
          observed: `${conn.received.length - conn.pos} bytes of body`,
          conn,
          at: conn.pos,
        });
      }
    },
  },
  {
    id: "http.idle-client",
    title: "a connection that sends nothing does not block another client for more than 1 s",
    timeoutMs: 4_000,
    hint: "serve each connection on its own thread (ThreadingHTTPServer), or time out idle reads",
    async run(ctx) {
      await ctx.open("idle client");
      const conn = await ctx.open("second client");
      await conn.write(request("GET", `/${HTTP_FILES.text}`));
      await readResponse(conn, 1_000, "the second client's response");
    },
  },
  {
    id: "http.keep-alive",
    title:
      "HTTP/1.1 keeps the connection open for a second request, unless the server says Connection: close",
    timeoutMs: 5_000,
    hint: "after a response, read the next request on the same socket; if you close, send Connection: close (or answer HTTP/1.0)",
    async run(ctx) {
      const conn = await ctx.open("client");
      await conn.write(request("GET", `/${HTTP_FILES.text}`, false));
      const first = await readResponse(conn, 3_000, "the first response");
      const closes = first.version === "HTTP/1.0" || /close/i.test(first.headers.get("connection") ?? "");
      if (closes) return;
      await conn.write(request("GET", `/${HTTP_FILES.text}`)).catch(() => {});
      await readResponse(conn, 2_000, "a second response on the same connection");
    },
  },
];

/** `http`: the classic first web server, serving a folder. */
export const httpProfile: Profile = {
  name: "http",
  summary: "a first web server serving a folder: GET text and binary, 404, HEAD, keep-alive, an idle client",
  needs: "root",
  tests,
  async prepare(ctx) {
    const root = ctx.inputs.root as string;
    const read = (name: string) => {
      try {
        return readFileSync(path.join(root, name));
      } catch {
        throw new CheckError("MISSING_INPUT", `${path.join(root, name)} cannot be read`, {
          hint: `the http profile fetches ${HTTP_FILES.text} and ${HTTP_FILES.binary}; put {dir} in the command and netlab fills a folder`,
        });
      }
    };
    return { files: { text: read(HTTP_FILES.text), binary: read(HTTP_FILES.binary) } };
  },
};
