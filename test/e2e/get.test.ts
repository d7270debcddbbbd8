import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  createReadStream,
  existsSync,
  lstatSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import getPort from "get-port";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { generateCertificate } from "../../packages/tls/src/index.ts";
import { type Route, type RouteServer, startRouteServer } from "../helpers/http.js";
import {
  LAB_BIN,
  progressDraws,
  runLab,
  runLabOnTerminal,
  runProcess,
  startLab,
  startLabOnTerminal,
} from "../helpers/lab.js";

const BIG = Buffer.alloc(24 * 1024 * 1024);
for (let i = 0; i < BIG.length; i += 4) BIG.writeUInt32LE((i * 2654435761) >>> 0, i);
const BIG_SHA = createHash("sha256").update(BIG).digest("hex");

async function text(stream: AsyncIterable<Buffer | string>): Promise<string> {
  let out = "";
  for await (const chunk of stream) out += chunk.toString();
  return out;
}

const RANGED = Buffer.from("0123456789abcdefghijklmnopqrstuvwxyz".repeat(100));
let lastRange: string | undefined;

let releaseStream: (() => void) | undefined;

const routes: Record<string, Route> = {
  "/hello": (_req, res) => {
    res.setHeader("x-test", "yes");
    res.end("hello\n");
  },
  // Header names in mixed case, one repeated around another: -i must show them as they came.
  "/raw": (_req, res) => {
    res.writeHead(200, ["X-Mixed-Case", "A", "content-type", "text/plain", "X-Mixed-Case", "B"]).end("raw\n");
  },
  "/moved": (_req, res) => res.writeHead(302, { location: "/hello" }).end("moved here\n"),
  "/echo": (req, res, body) => {
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ method: req.method, headers: req.headers, body: body.toString("utf8") }));
  },
  "/missing": (_req, res) => {
    res.statusCode = 404;
    res.end("no such page\n");
  },
  "/r1": (_req, res) => res.writeHead(302, { location: "/r2" }).end(),
  "/r2": (_req, res) => res.writeHead(301, { location: "/hello" }).end(),
  "/loop": (_req, res) => res.writeHead(302, { location: "/loop" }).end(),
  "/big": (_req, res) => {
    res.setHeader("content-length", BIG.length);
    res.end(BIG);
  },
  "/never": () => {},
  "/binary": (_req, res) => res.end(Buffer.from("PNG\x00\x01\x1b[2Jrest")),
  // Serves RANGED with byte ranges (bytes=N- only), as a file server that can resume does.
  "/ranged": (req, res) => {
    lastRange = req.headers.range;
    const start = Number(/^bytes=(\d+)-$/.exec(req.headers.range ?? "")?.[1] ?? 0);
    if (start >= RANGED.length)
      return res.writeHead(416, { "content-range": `bytes */${RANGED.length}` }).end();
    if (start === 0) return res.writeHead(200, { "content-length": RANGED.length }).end(RANGED);
    res.writeHead(206, {
      "content-range": `bytes ${start}-${RANGED.length - 1}/${RANGED.length}`,
      "content-length": RANGED.length - start,
    });
    res.end(RANGED.subarray(start));
  },
  // Sends a first line, then waits for the test to see it come out of lab before sending the rest.
  "/stream": (_req, res) => {
    res.write("first\n");
    releaseStream = () => res.end("second\n");
  },
};

let http: RouteServer;
let base: string;
let port: number;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "lab-get-"));
  http = await startRouteServer(routes);
  ({ base, port } = http);
});

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await http.close();
});

describe("lab get", () => {
  it("prints the body to stdout and exits 0", async () => {
    const r = await runLab(["get", `${base}/hello`]);
    expect(r).toEqual({ code: 0, stdout: "hello\n", stderr: "" });
  });

  it("prints the status line and headers first with -i", async () => {
    const r = await runLab(["get", "-i", `${base}/hello`]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(r.stdout).toContain("x-test: yes\r\n");
    expect(r.stdout.endsWith("\r\n\r\nhello\n")).toBe(true);
  });

  it("-i shows the headers as received: the server's case and order, repeats kept apart", async () => {
    const r = await runLab(["get", "-i", `${base}/raw`]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /^HTTP\/1\.1 200 OK\r\nX-Mixed-Case: A\r\ncontent-type: text\/plain\r\nX-Mixed-Case: B\r\n(.+\r\n)*\r\nraw\n$/,
    );
  });

  it("takes a URL without a scheme as http://, as curl", async () => {
    const r = await runLab(["get", `127.0.0.1:${port}/hello`]);
    expect(r).toEqual({ code: 0, stdout: "hello\n", stderr: "" });
  });

  it("-I sends HEAD and prints only the status line and headers", async () => {
    const r = await runLab(["get", "-I", `${base}/echo`]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(r.stdout).toContain("content-type: application/json\r\n");
    expect(r.stdout.endsWith("\r\n\r\n")).toBe(true);
  });

  it("-v prints the request (>) and the response (<) heads on stderr, the body alone on stdout", async () => {
    const r = await runLab(["get", "-v", "-H", "X-One: 1", `${base}/raw`]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("raw\n");
    const lines = r.stderr.split("\n");
    expect(lines[0]).toBe("> GET /raw HTTP/1.1");
    expect(lines).toContain("> x-one: 1");
    expect(lines).toContain(`> Host: 127.0.0.1:${port}`);
    const response = lines.indexOf("< HTTP/1.1 200 OK");
    expect(response).toBeGreaterThan(0);
    expect(lines.slice(response + 1, response + 4)).toEqual([
      "< X-Mixed-Case: A",
      "< content-type: text/plain",
      "< X-Mixed-Case: B",
    ]);
  });

  it("sends -X, -H and -d (as a form body, like curl)", async () => {
    const r = await runLab(["get", "-X", "PUT", "-H", "X-One: 1", "-d", "a=1&b=2", `${base}/echo`]);
    const echo = JSON.parse(r.stdout);
    expect(echo.method).toBe("PUT");
    expect(echo.headers["x-one"]).toBe("1");
    expect(echo.headers["content-type"]).toBe("application/x-www-form-urlencoded");
    expect(echo.body).toBe("a=1&b=2");
  });

  it("-u USER:PASSWORD sends Basic auth as curl; -H Authorization wins over -u, and -u over the URL's", async () => {
    const sent = async (args: string[], url = `${base}/echo`) => {
      const r = await runLab(["get", ...args, url]);
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout).headers.authorization as string | undefined;
    };
    const basic = (s: string) => `Basic ${Buffer.from(s).toString("base64")}`;
    // Split at the first colon only: a password may hold colons and spaces.
    expect(await sent(["-u", "alice: pa:ss "])).toBe(basic("alice: pa:ss "));
    expect(await sent(["-u", "alice:"])).toBe(basic("alice:"));
    expect(await sent(["-u", "alice:pw", "-H", "Authorization: Bearer t"])).toBe("Bearer t");
    expect(await sent(["-u", "alice:pw"], base.replace("//", "//bob:x@") + "/echo")).toBe(basic("alice:pw"));
  });

  it("-u USER with no password and no terminal to ask on is a usage error that sends nothing", async () => {
    const r = await runLab(["get", "-u", "alice", `${base}/echo`]);
    expect(r).toEqual({
      code: 2,
      stdout: "",
      stderr:
        'lab: -u "alice" has no password, and there is no terminal to ask for it on\nhint: give -u USER:PASSWORD (other users can see it in ps), or run lab get on a terminal\n',
    });
  });

  it("-u USER on a terminal asks for the password without echoing it, then sends it", async () => {
    const lab = startLabOnTerminal(["get", "-u", "alice", `${base}/echo`]);
    await lab.waitForOutput("Enter host password for user 'alice': ");
    lab.write(" s3 cret\r");
    expect(await lab.exited).toBe(0);
    const body = lab.stdout().slice(lab.stdout().indexOf("{"));
    expect(JSON.parse(body.trim()).headers.authorization).toBe(
      `Basic ${Buffer.from("alice: s3 cret").toString("base64")}`,
    );
    expect(lab.stdout()).not.toContain("s3 cret");
  });

  it("POSTs -d with the caller's Content-Type, and -d @- from stdin", async () => {
    const r = await runLab(["get", "-H", "Content-Type: application/json", "-d", "@-", `${base}/echo`], {
      input: '{"a":1}',
    });
    const echo = JSON.parse(r.stdout);
    expect(echo.method).toBe("POST");
    expect(echo.headers["content-type"]).toBe("application/json");
    expect(echo.body).toBe('{"a":1}');
  });

  it("POSTs -F as multipart/form-data: fields, a file upload (@, typed by extension as curl) and a file's text (<)", async () => {
    const upload = join(dir, "notes.txt");
    writeFileSync(upload, "line one\nline two\n");
    const r = await runLab([
      "get",
      "-F",
      "q=a b",
      "-F",
      `doc=@${upload};type=text/plain`,
      "-F",
      `text=<${upload}`,
      `${base}/echo`,
    ]);
    expect(r.code).toBe(0);
    const echo = JSON.parse(r.stdout);
    expect(echo.method).toBe("POST");
    const boundary = /^multipart\/form-data; boundary=(.+)$/.exec(echo.headers["content-type"])?.[1];
    expect(boundary).toBeDefined();
    expect(echo.body).toBe(
      // The same bytes as curl 7.88 sends for these -F, boundary aside.
      [
        `--${boundary}`,
        'Content-Disposition: form-data; name="q"',
        "",
        "a b",
        `--${boundary}`,
        'Content-Disposition: form-data; name="doc"; filename="notes.txt"',
        "Content-Type: text/plain",
        "",
        "line one\nline two\n",
        `--${boundary}`,
        'Content-Disposition: form-data; name="text"',
        "",
        "line one\nline two\n",
        `--${boundary}--`,
        "",
      ].join("\r\n"),
    );
  });

  it("prints a 404's body and exits 0 without -f, as curl", async () => {
    const r = await runLab(["get", `${base}/missing`]);
    expect(r).toEqual({ code: 0, stdout: "no such page\n", stderr: "" });
  });

  it("-f exits 22 with 'HTTP Error 404: Not Found' on stderr and no body", async () => {
    const r = await runLab(["get", "-f", `${base}/missing`]);
    expect(r.code).toBe(22);
    expect(r.stderr.split("\n")[0]).toBe("lab: HTTP Error 404: Not Found");
    expect(r.stdout).toBe("");
  });

  it("--fail-with-body exits 22 and still prints the body", async () => {
    const r = await runLab(["get", "--fail-with-body", `${base}/missing`]);
    expect(r).toMatchObject({ code: 22, stdout: "no such page\n" });
  });

  it("-s says nothing on failure (exit code only); -sS still prints the error", async () => {
    expect(await runLab(["get", "-sf", `${base}/missing`])).toEqual({ code: 22, stdout: "", stderr: "" });
    const r = await runLab(["get", "-sSf", `${base}/missing`]);
    expect(r.code).toBe(22);
    expect(r.stderr.split("\n")[0]).toBe("lab: HTTP Error 404: Not Found");
  });

  it("without -L prints the 3xx answer's body; -L follows the redirects", async () => {
    expect(await runLab(["get", `${base}/moved`])).toEqual({ code: 0, stdout: "moved here\n", stderr: "" });
    const r = await runLab(["get", "-L", `${base}/r1`]);
    expect(r).toMatchObject({ code: 0, stdout: "hello\n" });
  });

  it("-L exits 47 on a redirect loop, naming it", async () => {
    const r = await runLab(["get", "-L", "--max-redirs", "3", `${base}/loop`]);
    expect(r.code).toBe(47);
    expect(r.stderr).toContain("lab: redirect loop: gave up after 3 redirects");
  });

  it("exits 28 when the server never answers within --timeout", async () => {
    const started = Date.now();
    const r = await runLab(["get", "--timeout", "0.5", `${base}/never`]);
    expect(r.code).toBe(28);
    expect(r.stderr).toContain(`lab: timed out after 0.5 s waiting for ${base}/never`);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it("exits 7 when nothing listens on the port", async () => {
    const closed = await getPort({ host: "127.0.0.1" });
    const r = await runLab(["get", `http://127.0.0.1:${closed}/`]);
    expect(r.code).toBe(7);
    expect(r.stderr).toContain(`lab: cannot connect to 127.0.0.1:${closed}: connection refused`);
  });

  it("exits 6 when the host cannot be resolved (failure injected, no DNS query)", async () => {
    const r = await runLab(["get", "http://unresolvable.invalid/"], {
      env: { NETLAB_TEST_RESOLVE_FAIL: "1" },
    });
    expect(r.code).toBe(6);
    expect(r.stderr).toContain("lab: cannot resolve host unresolvable.invalid (ENOTFOUND)");
  });

  it("exits 35 when https:// meets a server that does not speak TLS", async () => {
    const r = await runLab(["get", `https://127.0.0.1:${port}/hello`]);
    expect(r.code).toBe(35);
    expect(r.stderr).toContain(`lab: TLS failed with 127.0.0.1:${port}: wrong version number`);
  });

  it("uses --resolve HOST:PORT:ADDR (curl's syntax) instead of DNS, for that port only", async () => {
    // NETLAB_TEST_RESOLVE_FAIL: any name --resolve does not pin fails without a DNS query.
    const env = { NETLAB_TEST_RESOLVE_FAIL: "1" };
    const pinned = `example.test:${port}:127.0.0.1`;
    const r = await runLab(["get", "--resolve", pinned, `example.test:${port}/echo`], { env });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).headers.host).toBe(`example.test:${port}`);
    const other = await runLab(["get", "--resolve", pinned, `http://example.test:${port + 1}/`], { env });
    expect(other.code).toBe(6);
    const bad = await runLab(["get", "--resolve", "example.test:127.0.0.1", `http://example.test:${port}/`]);
    expect(bad.code).toBe(2);
    expect(bad.stderr.split("\n")[0]).toBe(
      'lab: --resolve wants HOST:PORT:ADDR (as curl), got "example.test:127.0.0.1"',
    );
  });

  it("writes a large body to -o FILE with the right sha256, and no progress bar when piped", async () => {
    const out = join(dir, "big.bin");
    const r = await runLab(["get", "-o", out, `${base}/big`]);
    expect(r).toEqual({ code: 0, stdout: "", stderr: "" });
    expect(createHash("sha256").update(readFileSync(out)).digest("hex")).toBe(BIG_SHA);
    expect(existsSync(`${out}.part`)).toBe(false);
  });

  it("leaves no file behind with -o when the request fails", async () => {
    const out = join(dir, "missing.html");
    const r = await runLab(["get", "-f", "-o", out, `${base}/missing`]);
    expect(r.code).toBe(22);
    expect(existsSync(out)).toBe(false);
    expect(existsSync(`${out}.part`)).toBe(false);
  });

  it("writes through a symlink or a FIFO given to -o, never replacing it with a file", async () => {
    const real = join(dir, "real.txt");
    const link = join(dir, "link.txt");
    writeFileSync(real, "old");
    symlinkSync(real, link);
    expect((await runLab(["get", "-o", link, `${base}/hello`])).code).toBe(0);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readFileSync(real, "utf8")).toBe("hello\n");

    const fifo = join(dir, "fifo");
    expect(spawnSync("mkfifo", [fifo]).status).toBe(0);
    const received = text(createReadStream(fifo));
    expect((await runLab(["get", "-o", fifo, `${base}/hello`])).code).toBe(0);
    expect(await received).toBe("hello\n");
    expect(lstatSync(fifo).isFIFO()).toBe(true);
  });

  it("-O saves the body as the URL's last path segment in the current folder, as curl -O", async () => {
    const here = mkdtempSync(join(dir, "remote-name-"));
    const r = await runLab(["get", "-O", `${base}/hello?x=1`], { cwd: here });
    expect(r).toEqual({ code: 0, stdout: "", stderr: "" });
    expect(readFileSync(join(here, "hello"), "utf8")).toBe("hello\n");
    expect(existsSync(join(here, "hello.part"))).toBe(false);
  });

  it("-o - writes the body to stdout, as curl, not to a file named -", async () => {
    const here = mkdtempSync(join(dir, "dash-"));
    const r = await runLab(["get", "-o", "-", `${base}/hello`], { cwd: here });
    expect(r).toEqual({ code: 0, stdout: "hello\n", stderr: "" });
    expect(existsSync(join(here, "-"))).toBe(false);
  });

  it("on a terminal, a binary body is not printed (exit 23, as curl) unless -o - asks; piped, it is", async () => {
    const onTty = (args: string[]) => runLabOnTerminal(args);
    const guarded = await onTty(["get", `${base}/binary`]);
    expect(guarded.code).toBe(23);
    expect(guarded.stdout).toContain("lab: binary output can mess up your terminal; not printed");
    expect(guarded.stdout).not.toContain("PNG");
    const asked = await onTty(["get", "-o", "-", `${base}/binary`]);
    expect(asked.code).toBe(0);
    expect(asked.stdout).toContain("PNG");
    const piped = await runLab(["get", `${base}/binary`]);
    expect(piped.code).toBe(0);
    expect(piped.stdout).toBe("PNG\x00\x01\x1b[2Jrest");
  });

  it("draws its progress bar within a narrow terminal's width (the bar gives way to the numbers)", async () => {
    const out = join(dir, "narrow.bin");
    const r = await runLabOnTerminal(["get", "-o", out, `${base}/big`], { cols: 50, rows: 20 });
    expect(r.code, r.stdout).toBe(0);
    const draws = progressDraws(r.stdout, "MiB");
    expect(draws.length, r.stdout).toBeGreaterThan(0);
    for (const d of draws) expect(Array.from(d).length, d).toBeLessThanOrEqual(49);
    expect(draws.at(-1)).toMatch(/^100% {2}24\.0 MiB \/ 24\.0 MiB {2}/);
  });

  it("-O exits 2 for a URL whose path names no file, and with -o", async () => {
    const here = mkdtempSync(join(dir, "remote-name-"));
    const slash = await runLab(["get", "-O", `${base}/`], { cwd: here });
    expect(slash.code).toBe(2);
    expect(slash.stderr.split("\n")[0]).toBe(
      `lab: -O names the file after the URL's last path segment, and ${base}/ has none`,
    );
    const both = await runLab(["get", "-O", "-o", "x", `${base}/hello`], { cwd: here });
    expect(both.code).toBe(2);
    expect(both.stderr.split("\n")[0]).toBe("lab: give either -o FILE or -O, not both");
  });

  it("-C - resumes -o FILE from its size with a Range request and appends the rest", async () => {
    const out = join(dir, "resume.bin");
    writeFileSync(out, RANGED.subarray(0, 1000));
    const r = await runLab(["get", "-C", "-", "-o", out, `${base}/ranged`]);
    expect(r).toEqual({ code: 0, stdout: "", stderr: "" });
    expect(lastRange).toBe("bytes=1000-");
    expect(readFileSync(out).equals(RANGED)).toBe(true);
    // Already whole: the server answers 416, and that is success with nothing written.
    const again = await runLab(["get", "-C", "-", "-o", out, `${base}/ranged`]);
    expect(again).toEqual({ code: 0, stdout: "", stderr: "" });
    expect(readFileSync(out).equals(RANGED)).toBe(true);
  });

  it("-C - exits 33 when the server ignores the Range, leaving the partial file as it was", async () => {
    const out = join(dir, "no-resume.bin");
    writeFileSync(out, "hel");
    const r = await runLab(["get", "-C", "-", "-o", out, `${base}/hello`]);
    expect(r.code).toBe(33);
    expect(r.stderr.split("\n")[0]).toBe(
      "lab: the server does not resume (it answered 200, not 206 Partial Content)",
    );
    expect(readFileSync(out, "utf8")).toBe("hel");
  });

  it("exits 23 when -o FILE cannot be written", async () => {
    const r = await runLab(["get", "-o", join(dir, "no-such-dir", "x"), `${base}/hello`]);
    expect(r.code).toBe(23);
    expect(r.stderr).toContain("lab: cannot write ");
  });

  it("-o naming a folder, or a file in a missing one: exit 23, the reason in words and what to do", async () => {
    const folder = await runLab(["get", "-o", dir, `${base}/hello`]);
    expect(folder.code).toBe(23);
    expect(folder.stderr).toBe(
      `lab: cannot write ${dir}: it is a folder\nhint: give the path of a file, in that folder or another\n`,
    );
    const missing = join(dir, "no-such-dir", "x");
    const r = await runLab(["get", "-o", missing, `${base}/hello`]);
    expect(r.stderr).toBe(
      `lab: cannot write ${missing}: its folder does not exist\nhint: create the folder first, or give a path in an existing one\n`,
    );
  });

  it("exits 23 with one 'cannot write' line when stdout's reader goes away (| head), as curl; -s keeps it quiet", async () => {
    // bash, for PIPESTATUS: lab's own exit code, not head's.
    const piped = (flags: string) =>
      runProcess("bash", [
        "-c",
        `"${process.execPath}" "${LAB_BIN}" get ${flags} "${base}/big" | head -c 10 >/dev/null; echo "\${PIPESTATUS[0]}"`,
      ]);
    for (let run = 0; run < 3; run++) {
      const r = await piped("");
      expect(r.stdout.trim()).toBe("23");
      expect(r.stderr).toMatch(/^lab: cannot write the output: .*EPIPE.*\nhint: .*\n$/);
    }
    const quiet = await piped("-s");
    expect(quiet.stdout.trim()).toBe("23");
    expect(quiet.stderr).toBe("");
  });

  it("streams: the first chunk is out before the server has sent the rest", async () => {
    const lab = startLab(["get", `${base}/stream`]);
    await lab.waitForOutput("first\n", { stream: "stdout" });
    expect(lab.stdout()).toBe("first\n");
    releaseStream?.();
    expect(await lab.exited).toBe(0);
    expect(lab.stdout()).toBe("first\nsecond\n");
  });

  it.each([
    [["http://[::1/"], "lab: invalid URL: Invalid IPv6 URL"],
    [["ftp://127.0.0.1/x"], 'lab: unsupported scheme "ftp" in ftp://127.0.0.1/x'],
    [["not a url"], 'lab: invalid URL "http://not a url": Invalid URL'],
    [["http://127.0.0.1:99999/"], "lab: invalid URL: Port out of range 0-65535"],
    // netlab's socket addresses are not URLs: refused, never looked up as a host named "unix".
    [
      ["unix:/tmp/netlab-get.sock"],
      'lab: "unix:/tmp/netlab-get.sock" is a Unix socket address; lab get speaks HTTP over TCP',
    ],
    [["@netlab-get"], 'lab: "@netlab-get" is a Unix socket address; lab get speaks HTTP over TCP'],
    [
      ["--timeout", "soon", "http://127.0.0.1/"],
      'lab: --timeout must be a time of 1ms or more (500ms, 2s, 1m; bare numbers are seconds), got "soon"',
    ],
    [["-H", "nocolon", "http://127.0.0.1/"], "lab: -H wants 'Name: value', got \"nocolon\""],
    [
      ["-X", "GE T", "http://127.0.0.1/"],
      'lab: -X wants an HTTP method, a token such as PUT or PROPFIND, got "GE T"',
    ],
  ])("exits 2 for %j", async (args, line) => {
    const r = await runLab(["get", ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr.split("\n")[0]).toBe(line);
  });
});

describe("lab get https: -k, --cacert, exit 60 (a lab-made certificate on 127.0.0.1)", () => {
  let https: HttpsServer;
  let url: string;
  let tlsPort: number;
  let caFile: string;
  let otherCaFile: string;

  beforeAll(async () => {
    const ca = await generateCertificate({ isCa: true, commonName: "netlab get CA" });
    const other = await generateCertificate({ isCa: true, commonName: "someone else" });
    const leaf = await generateCertificate({ issuer: ca, sans: ["127.0.0.1", "localhost"] });
    caFile = join(dir, "ca.pem");
    otherCaFile = join(dir, "other-ca.pem");
    writeFileSync(caFile, ca.cert);
    writeFileSync(otherCaFile, other.cert);
    https = createHttpsServer({ cert: leaf.cert, key: leaf.key }, (_req, res) => res.end("secret\n"));
    await new Promise<void>((resolve) => https.listen(0, "127.0.0.1", resolve));
    tlsPort = (https.address() as AddressInfo).port;
    url = `https://127.0.0.1:${tlsPort}/`;
  });

  afterAll(async () => {
    https.closeAllConnections();
    await new Promise((resolve) => https.close(resolve));
  });

  it("exits 60 when the certificate is not trusted, naming the fix", async () => {
    const r = await runLab(["get", url]);
    expect(r.code).toBe(60);
    expect(r.stderr).toMatch(/^lab: the certificate of 127\.0\.0\.1:\d+ is not trusted: /);
    expect(r.stderr).toContain("hint: give the CA that signed it with --cacert FILE, or -k");
    const wrongCa = await runLab(["get", "--cacert", otherCaFile, url]);
    expect(wrongCa.code).toBe(60);
  });

  it("trusts the CA given with --cacert", async () => {
    expect(await runLab(["get", "--cacert", caFile, url])).toEqual({
      code: 0,
      stdout: "secret\n",
      stderr: "",
    });
  });

  it("exits 60 when the certificate is for another name (--resolve keeps the name for TLS)", async () => {
    const pinned = `example.test:${tlsPort}:127.0.0.1`;
    const r = await runLab(
      ["get", "--cacert", caFile, "--resolve", pinned, `https://example.test:${tlsPort}/`],
      {
        env: { NETLAB_TEST_RESOLVE_FAIL: "1" },
      },
    );
    expect(r.code).toBe(60);
    expect(r.stderr).toContain("hint: the certificate is for another name");
  });

  it("-k accepts any certificate", async () => {
    expect(await runLab(["get", "-k", url])).toEqual({ code: 0, stdout: "secret\n", stderr: "" });
  });
});

describe("lab get bounds a server that trickles the body (--speed-limit, --speed-time)", () => {
  /** A raw HTTP server on 127.0.0.1 that promises `size` bytes, then sends one each 100 ms (10 B/s). */
  async function trickler(size: number): Promise<number> {
    const { createServer } = await import("node:net");
    const sockets = new Set<import("node:net").Socket>();
    const timers = new Set<NodeJS.Timeout>();
    const server = createServer((socket) => {
      sockets.add(socket);
      socket.on("error", () => {});
      socket.once("data", () => {
        socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${size}\r\n\r\n`);
        const timer = setInterval(() => socket.write("x"), 100);
        timers.add(timer);
        socket.on("close", () => clearInterval(timer));
      });
    });
    const port = await getPort({ host: "127.0.0.1" });
    await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
    onTestFinished(async () => {
      for (const t of timers) clearInterval(t);
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    });
    return port;
  }

  it("ends with exit 28 and lab:/hint: once the body averages under --speed-limit", async () => {
    const port = await trickler(100_000);
    const dir = mkdtempSync(join(tmpdir(), "netlab-get-slow-"));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const out = join(dir, "slow.bin");
    const started = performance.now();
    const r = await runLab(
      ["get", `http://127.0.0.1:${port}/slow`, "-o", out, "--speed-limit", "1K", "--speed-time", "2s"],
      { timeoutMs: 40_000 },
    );
    expect(r.code, r.stderr).toBe(28);
    expect(r.stderr).toMatch(
      /^lab: the body of http:\/\/127\.0\.0\.1:\d+\/slow came at \d+ bytes in [\d.]+ s, under the speed limit of 1\.0 KiB\/s over 2 s$/m,
    );
    expect(r.stderr).toMatch(/^hint: .*--speed-limit/m);
    // Far under --timeout's 30 s, which each trickled byte resets.
    expect(performance.now() - started).toBeLessThan(20_000);
    // A failed -o leaves no file, as any other failure.
    expect(existsSync(out)).toBe(false);
  }, 60_000);

  it("refuses a --speed-limit that is not a rate, with exit 2", async () => {
    const r = await runLab(["get", "http://127.0.0.1:9/", "--speed-limit", "fast"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^lab: --speed-limit must be a rate such as 1KiB\/s/m);
  });
});

describe("lab get's speed limit counts the server's time, not its reader's", () => {
  it("a reader of stdout that stops for 3 s does not trip --speed-limit 10M --speed-time 1s", async () => {
    const { spawn } = await import("node:child_process");
    const child = spawn(
      process.execPath,
      [LAB_BIN, "get", "-s", `${base}/big`, "--speed-limit", "10M", "--speed-time", "1s"],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    onTestFinished(() => {
      child.kill("SIGKILL");
    });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    // Nothing is read for 3 s: lab waits on the pipe, the server waits on lab (windows of nothing).
    child.stdout.pause();
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const hash = createHash("sha256");
    child.stdout.on("data", (d: Buffer) => hash.update(d));
    child.stdout.resume();
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect(code, stderr).toBe(0);
    expect(hash.digest("hex")).toBe(BIG_SHA);
  }, 60_000);
});
