import { createHash } from "node:crypto";
import { type AddressInfo, createServer } from "node:net";
import { gzipSync } from "node:zlib";
import { HTTPError, staticLookup, URLError, urlopen } from "@netlab/url";
import getPort from "get-port";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { type Route, type RouteServer, startRouteServer } from "../../../test/helpers/http.js";

const BIG = Buffer.alloc(8 * 1024 * 1024);
for (let i = 0; i < BIG.length; i++) BIG[i] = (i * 31 + (i >> 10)) & 0xff;

const routes: Record<string, Route> = {
  "/hello": (_req, res) => {
    res.setHeader("x-test", "yes");
    res.end("hello\n");
  },
  "/echo": (req, res, body) => {
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ method: req.method, headers: req.headers, body: body.toString("utf8") }));
  },
  "/missing": (_req, res) => {
    res.statusCode = 404;
    res.end("no such page");
  },
  "/teapot": (_req, res) => {
    res.writeHead(418, "I'm a teapot").end();
  },
  "/boom": (_req, res) => {
    res.statusCode = 500;
    res.end("x".repeat(200_000));
  },
  "/r1": (_req, res) => res.writeHead(302, { location: "/r2" }).end(),
  "/r2": (_req, res) => res.writeHead(301, { location: "/hello" }).end(),
  "/see-other": (_req, res) => res.writeHead(303, { location: "/echo" }).end(),
  "/keep-method": (_req, res) => res.writeHead(307, { location: "/echo" }).end(),
  "/loop-a": (_req, res) => res.writeHead(302, { location: "/loop-b" }).end(),
  "/loop-b": (_req, res) => res.writeHead(302, { location: "/loop-a" }).end(),
  "/big": (_req, res) => {
    res.setHeader("content-length", BIG.length);
    res.end(BIG);
  },
  "/never": () => {},
  "/stall": (_req, res) => {
    res.setHeader("content-length", 1000);
    res.write("only part of it");
  },
  "/hangup": (req) => req.socket.destroy(),
};

let http: RouteServer;
let base: string;
let port: number;

beforeAll(async () => {
  http = await startRouteServer(routes);
  ({ base, port } = http);
});

afterAll(() => http.close());

async function failure(p: Promise<unknown>): Promise<URLError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof URLError) return err;
    throw err;
  }
  throw new Error("expected the request to fail");
}

describe("urlopen", () => {
  it("returns status, reason, headers and the body", async () => {
    const res = await urlopen(`${base}/hello`);
    expect(res.status).toBe(200);
    expect(res.reason).toBe("OK");
    expect(res.headers.get("x-test")).toBe("yes");
    expect(await res.text()).toBe("hello\n");
  });

  it("sends the method, headers and a string body", async () => {
    const res = await urlopen(`${base}/echo`, { method: "put", headers: { "X-One": "1" }, body: "data=ü" });
    const echo = JSON.parse(await res.text());
    expect(echo.method).toBe("PUT");
    expect(echo.headers["x-one"]).toBe("1");
    expect(echo.body).toBe("data=ü");
  });

  it("POSTs form fields encoded like urlencode (doseq)", async () => {
    const res = await urlopen(`${base}/echo`, { form: { q: "a b", k: ["1", "2"] } });
    const echo = JSON.parse(await res.text());
    expect(echo.method).toBe("POST");
    expect(echo.headers["content-type"]).toBe("application/x-www-form-urlencoded");
    expect(echo.body).toBe("q=a+b&k=1&k=2");
  });

  it("throws HTTPError for 404 with Python's message, the status, reason and body", async () => {
    const err = await failure(urlopen(`${base}/missing`));
    expect(err).toBeInstanceOf(HTTPError);
    const http = err as HTTPError;
    expect(http.message).toBe("HTTP Error 404: Not Found");
    expect(http.code).toBe("HTTP_ERROR");
    expect(http.status).toBe(404);
    expect(http.reason).toBe("Not Found");
    expect(http.text()).toBe("no such page");
  });

  it("keeps the server's own reason phrase", async () => {
    const err = await failure(urlopen(`${base}/teapot`));
    expect(err.message).toBe("HTTP Error 418: I'm a teapot");
  });

  it("keeps only maxErrorBodyBytes of an error body", async () => {
    const err = (await failure(urlopen(`${base}/boom`, { maxErrorBodyBytes: 1000 }))) as HTTPError;
    expect(err.status).toBe(500);
    expect(err.body.length).toBe(1000);
    expect(err.truncated).toBe(true);
  });

  it("follows redirects and lists them", async () => {
    const res = await urlopen(`${base}/r1`);
    expect(res.url).toBe(`${base}/hello`);
    expect(res.redirects).toEqual([`${base}/r1`, `${base}/r2`]);
    expect(await res.text()).toBe("hello\n");
  });

  it("turns a POST into a GET without body on 303, and keeps it on 307", async () => {
    const seeOther = JSON.parse(await (await urlopen(`${base}/see-other`, { body: "x" })).text());
    expect(seeOther.method).toBe("GET");
    expect(seeOther.body).toBe("");
    const keep = JSON.parse(await (await urlopen(`${base}/keep-method`, { body: "x" })).text());
    expect(keep.method).toBe("POST");
    expect(keep.body).toBe("x");
  });

  it("stops a redirect loop with TOO_MANY_REDIRECTS and says it is a loop", async () => {
    const err = await failure(urlopen(`${base}/loop-a`));
    expect(err.code).toBe("TOO_MANY_REDIRECTS");
    expect(err.message).toMatch(/^redirect loop: gave up after 10 redirects: .*loop-a/);
  });

  it("treats any redirect as too many with maxRedirects 0", async () => {
    const err = await failure(urlopen(`${base}/r1`, { maxRedirects: 0 }));
    expect(err.code).toBe("TOO_MANY_REDIRECTS");
    expect(err.message).toContain("more than 0 redirects");
  });

  it("streams a large body in several chunks, byte for byte", async () => {
    const res = await urlopen(`${base}/big`);
    expect(res.contentLength).toBe(BIG.length);
    const hash = createHash("sha256");
    let chunks = 0;
    for await (const chunk of res.body) {
      hash.update(chunk);
      chunks++;
    }
    expect(chunks).toBeGreaterThan(1);
    expect(hash.digest("hex")).toBe(createHash("sha256").update(BIG).digest("hex"));
  });

  it("times out with REQUEST_TIMEOUT when the server never answers", async () => {
    const started = Date.now();
    const err = await failure(urlopen(`${base}/never`, { timeoutMs: 300 }));
    expect(err.code).toBe("REQUEST_TIMEOUT");
    expect(err.reason).toBe("timed out");
    expect(err.message).toBe(`timed out after 0.3 s waiting for ${base}/never`);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it("times out with REQUEST_TIMEOUT when the body stalls half way", async () => {
    const res = await urlopen(`${base}/stall`, { timeoutMs: 300 });
    const err = await failure(res.text());
    expect(err.code).toBe("REQUEST_TIMEOUT");
  });

  it("reports CONNECTION_REFUSED for a port nobody listens on", async () => {
    const closed = await getPort({ host: "127.0.0.1" });
    const err = await failure(urlopen(`http://127.0.0.1:${closed}/`));
    expect(err.code).toBe("CONNECTION_REFUSED");
    expect(err.reason).toBe("Connection refused");
  });

  it("reports DNS_FAILURE when the injected lookup cannot resolve the name", async () => {
    const err = await failure(urlopen("http://unresolvable.invalid/", { lookup: staticLookup({}) }));
    expect(err.code).toBe("DNS_FAILURE");
    expect(err.message).toBe("cannot resolve host unresolvable.invalid (ENOTFOUND)");
  });

  it("connects to the address an injected lookup gives, sending the name as Host", async () => {
    const lookup = staticLookup({ "api.test": "127.0.0.1" });
    const res = await urlopen(`http://api.test:${port}/echo`, { lookup });
    expect(JSON.parse(await res.text()).headers.host).toBe(`api.test:${port}`);
  });

  it("reports CONNECTION_FAILED when the server hangs up without answering", async () => {
    const err = await failure(urlopen(`${base}/hangup`));
    expect(err.code).toBe("CONNECTION_FAILED");
  });

  it("reports TLS_FAILURE when https:// meets a server that does not speak TLS", async () => {
    const err = await failure(urlopen(`https://127.0.0.1:${port}/hello`, { timeoutMs: 5000 }));
    expect(err.code).toBe("TLS_FAILURE");
    expect(err.message).toBe(`TLS failed with 127.0.0.1:${port}: wrong version number`);
  });

  it("refuses a non-HTTP URL with INVALID_URL", async () => {
    expect((await failure(urlopen("ftp://127.0.0.1/x"))).code).toBe("INVALID_URL");
    expect((await failure(urlopen("not a url"))).code).toBe("INVALID_URL");
  });

  it("releases the connection when the body is not read", async () => {
    const res = await urlopen(`${base}/big`);
    await res.close();
    const again = await urlopen(`${base}/hello`);
    expect(await again.text()).toBe("hello\n");
  });
});

describe("urlopen limits (#13)", () => {
  const gzipped = gzipSync(Buffer.from("abc".repeat(100_000)));
  const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024), { level: 9 });
  let limited: RouteServer;
  let at: string;

  beforeAll(async () => {
    limited = await startRouteServer({
      "/gzip": (_req, res) => res.writeHead(200, { "content-encoding": "gzip" }).end(gzipped),
      "/bomb": (_req, res) => res.writeHead(200, { "content-encoding": "gzip" }).end(bomb),
      "/corrupt": (_req, res) => res.writeHead(200, { "content-encoding": "gzip" }).end("not gzip at all"),
      "/unknown": (_req, res) => res.writeHead(200, { "content-encoding": "zstd" }).end("as sent"),
      "/sized": (_req, res) => res.writeHead(200, { "content-length": 5000 }).end("x".repeat(5000)),
      "/trickle": (_req, res) => {
        res.writeHead(200);
        const timer = setInterval(() => res.write("x"), 50);
        res.on("close", () => clearInterval(timer));
      },
    });
    at = limited.base;
  });

  afterAll(() => limited.close());

  it("decodes gzip and says so", async () => {
    const res = await urlopen(`${at}/gzip`);
    expect(res.isDecoded).toBe(true);
    expect(await res.text()).toBe("abc".repeat(100_000));
  });

  it("keeps a body in a coding it cannot undo as sent", async () => {
    const res = await urlopen(`${at}/unknown`);
    expect(res.isDecoded).toBe(false);
    expect(await res.text()).toBe("as sent");
  });

  it("refuses a body that decodes to more than maxDecompressionRatio times its size", async () => {
    const res = await urlopen(`${at}/bomb`);
    const err = await failure(res.bytes());
    expect(err.code).toBe("DECOMPRESSION_BOMB");
    expect(err.message).toMatch(/more than 100 times larger, a likely decompression bomb$/);
  });

  it("lets a highly compressed body through when maxDecompressionRatio is Infinity", async () => {
    const res = await urlopen(`${at}/bomb`, { maxDecompressionRatio: Number.POSITIVE_INFINITY });
    let size = 0;
    for await (const chunk of res.body) size += chunk.length;
    expect(size).toBe(64 * 1024 * 1024);
  });

  it("reports a corrupt gzip body as BAD_CONTENT_ENCODING", async () => {
    const res = await urlopen(`${at}/corrupt`);
    expect((await failure(res.text())).code).toBe("BAD_CONTENT_ENCODING");
  });

  it("refuses a Content-Length over maxBodyBytes before the body is read", async () => {
    const err = await failure(urlopen(`${at}/sized`, { maxBodyBytes: 4999 }));
    expect(err.code).toBe("BODY_TOO_LARGE");
    expect(err.message).toBe(
      `the body of ${at}/sized is 5000 bytes (Content-Length), more than the limit of 4999 bytes`,
    );
    expect(await (await urlopen(`${at}/sized`, { maxBodyBytes: 5000 })).text()).toHaveLength(5000);
  });

  it("counts decoded bytes against maxBodyBytes", async () => {
    const res = await urlopen(`${at}/gzip`, { maxBodyBytes: 1000 });
    expect((await failure(res.bytes())).code).toBe("BODY_TOO_LARGE");
  });

  it("ends a body that never finishes after totalTimeoutMs, though it never idles", async () => {
    const started = Date.now();
    const res = await urlopen(`${at}/trickle`, { timeoutMs: 1000, totalTimeoutMs: 400 });
    const err = await failure(res.bytes());
    expect(err.code).toBe("REQUEST_TIMEOUT");
    expect(err.message).toBe(`operation timed out after 0.4 s (${at}/trickle)`);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it("ends the request when the caller's signal fires, as ABORTED", async () => {
    const controller = new AbortController();
    const res = await urlopen(`${at}/trickle`, { signal: controller.signal });
    setTimeout(() => controller.abort(), 100);
    expect((await failure(res.bytes())).code).toBe("ABORTED");
  });
});

describe("urlopen and a server whose HTTP is malformed", () => {
  it("says the answer is malformed HTTP and why, not that it is 'not HTTP: an HTTP server'", async () => {
    const server = createServer((socket) => {
      socket.once("data", () =>
        socket.end("HTTP/1.1 200 OK\r\nX-E: a\x1b[31mred\r\nContent-Length: 2\r\n\r\nok"),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const { port: rawPort } = server.address() as AddressInfo;
    const err = await failure(urlopen(`http://127.0.0.1:${rawPort}/`));
    expect(err.code).toBe("WEIRD_SERVER_REPLY");
    expect(err.message).toBe(
      `127.0.0.1:${rawPort} sent a malformed HTTP answer: Invalid header value char (it began 'HTTP/1.1 200 OK^M')`,
    );
  });
});

describe("urlopen and a server that closes as soon as it has sent (#13)", () => {
  it("#13: a slow reader gets the whole body though the server sent its FIN long before (undici 6 crashed)", async () => {
    const body = Buffer.alloc(1024 * 1024, 0x61);
    // python3 -m http.server's way: HTTP/1.0, Content-Length, the body, then close at once.
    const server = createServer((socket) => {
      socket.once("data", () => {
        socket.write(`HTTP/1.0 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`);
        socket.end(body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const { port: rawPort } = server.address() as AddressInfo;
    const res = await urlopen(`http://127.0.0.1:${rawPort}/`);
    let size = 0;
    for await (const chunk of res.body) {
      size += chunk.length;
      // A reader slower than the network (a disk, a terminal): the parser falls behind the socket.
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(size).toBe(body.length);
  });
});
