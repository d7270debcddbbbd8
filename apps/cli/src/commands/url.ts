import { escapeControls, safeJson } from "@netlab/core/terminal";
import type { Command } from "commander";
import { addRefusedShortFlags, refuseShortFlags, type ShortFlagSpellings } from "../options.js";
import { action, UsageError } from "../run.js";

type UrlLib = typeof import("@netlab/url");

interface ShowOpts {
  json?: boolean;
  whatwg?: boolean;
  defaultScheme?: string;
}

interface BuildOpts {
  scheme?: string;
  netloc?: string;
  user?: string;
  password?: string;
  host?: string;
  port?: string;
  path?: string;
  params?: string;
  query?: string;
  field: string[];
  fragment?: string;
  [short: string]: unknown;
}

/** -f is --fail in lab (lab get, as curl): a query field is --field only. */
const BUILD_SHORTS: ShortFlagSpellings = { "-f": "--field" };

const PARTS = ["scheme", "netloc", "path", "params", "query", "fragment"] as const;
const NETLOC_PARTS = ["username", "password", "hostname", "port"] as const;

/** `lab url URL`, `lab url build`, `lab url join`, `lab url quote|unquote`: Python's urllib.parse on the command line. */
export function registerUrl(program: Command): void {
  const url = program
    .command("url")
    .description("split a URL into its parts as Python's urllib.parse does (and build, join, quote)")
    .argument("[url]", "the URL to take apart")
    .option("--json", 'print the parts as JSON (build, join, quote, unquote: {"url"} or {"text"})')
    .option("--whatwg", "show how a browser (WHATWG URL, Node's URL) reads it, beside Python's view")
    .option("--default-scheme <scheme>", "scheme to assume when the URL has none (Python's scheme= argument)")
    .addHelpText(
      "after",
      `
Examples:
  lab url "https://example.com/employees/name/?salary>=25000#top"
  lab url --json "http://user:pw@[::1]:8080/a;p?x=1&x=2#f"
  lab url --whatwg "HTTP://Example.COM:80/a/../b c"
  lab url build --scheme https --netloc example.com --path /a --query "x=1&y=2"
  lab url join "http://a/b/c/d;p?q" "../g"
  lab url quote "a b/ü"

Parts follow Python 3.11's urllib.parse exactly (see docs/url.md for where browsers differ).
An invalid URL (unbalanced [ ], a bad IPv6 host, a port out of range) is a usage error, exit 2.`,
    )
    .action(
      action(async (input: string | undefined, opts: ShowOpts) => {
        if (input === undefined) throw new UsageError("missing URL", "lab url URL, or lab url --help");
        await showUrl(input, opts);
      }),
    );

  const build = url
    .command("build")
    .description("put parts together into a URL (Python's urlunparse)")
    .option("--scheme <scheme>", "e.g. https")
    .option("--netloc <netloc>", "user:password@host:port as one part")
    .option("--user <user>", "user name (with --host)")
    .option("--password <password>", "password (with --host and --user)")
    .option("--host <host>", "host name or address; an IPv6 address gets brackets")
    .option("--port <port>", "port number (with --host)")
    .option("--path <path>", "e.g. /a/b")
    .option("--params <params>", "the ;params of the last path segment")
    .option("--query <query>", "the query as it should appear, e.g. 'x=1&y=2'")
    .option(
      "--field <name=value>",
      "a query field, percent-encoded as urlencode does (repeatable)",
      collect,
      [],
    )
    .option("--fragment <fragment>", "the part after #");
  addRefusedShortFlags(build, BUILD_SHORTS)
    .addHelpText(
      "after",
      `
Examples:
  lab url build --scheme https --netloc example.com --path /a --query "x=1&y=2"
  lab url build --scheme http --host ::1 --port 8080 --path /search --field "q=a b" --field lang=en
    → http://[::1]:8080/search?q=a+b&lang=en`,
    )
    .action(action(async (opts: BuildOpts, cmd: Command) => buildUrl(opts, cmd)));

  url
    .command("join")
    .description("resolve a reference against a base URL (Python's urljoin)")
    .argument("<base>", "the base URL")
    .argument("<ref>", "the reference, e.g. ../g or ?q")
    .addHelpText("after", '\nExample:\n  lab url join "http://a/b/c/d;p?q" "../g"     → http://a/b/g')
    .action(
      action(async (base: string, ref: string, _opts: unknown, cmd: Command) => {
        const lib = await import("@netlab/url");
        printResult(
          cmd,
          "url",
          asUsage(() => lib.urljoin(base, ref)),
        );
      }),
    );

  url
    .command("quote")
    .description("percent-encode text (Python's quote, or quote_plus with --plus)")
    .argument("<text>", "the text to encode (as UTF-8)")
    .option("--safe <chars>", "characters to leave as they are (default '/', '' with --plus)")
    .option("--plus", "encode spaces as + (for form values)")
    .addHelpText("after", '\nExample:\n  lab url quote "a b/ü"          → a%20b/%C3%BC')
    .action(
      action(async (text: string, opts: { safe?: string; plus?: boolean }, cmd: Command) => {
        const lib = await import("@netlab/url");
        const safe = opts.safe === undefined ? {} : { safe: opts.safe };
        printResult(
          cmd,
          "text",
          asUsage(() => (opts.plus ? lib.quotePlus(text, safe) : lib.quote(text, safe))),
        );
      }),
    );

  url
    .command("unquote")
    .description("decode %XX escapes (Python's unquote, or unquote_plus with --plus)")
    .argument("<text>", "the text to decode")
    .option("--plus", "also turn + into a space")
    .addHelpText("after", '\nExample:\n  lab url unquote "caf%C3%A9"     → café')
    .action(
      action(async (text: string, opts: { plus?: boolean }, cmd: Command) => {
        const lib = await import("@netlab/url");
        printResult(cmd, "text", opts.plus ? lib.unquotePlus(text) : lib.unquote(text));
      }),
    );
}

/**
 * A subcommand's result on its own line, or with `lab url --json` as `{ key: value }`. On a
 * terminal its control characters are shown, not obeyed (`unquote "%1b[2J"` is `^[[2J`, as the
 * parts table escapes them); piped, it is exact.
 */
function printResult(cmd: Command, key: string, value: string): void {
  const isJson = (cmd.optsWithGlobals() as { json?: boolean }).json === true;
  if (isJson) process.stdout.write(`${safeJson(JSON.stringify({ [key]: value }))}\n`);
  else process.stdout.write(`${process.stdout.isTTY ? escapeControls(value) : value}\n`);
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** Runs `fn`, turning a URL error into a usage error with its reason. */
function asUsage<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    const e = err as { message?: string; hint?: string; code?: string };
    if (e && typeof e.code === "string") throw new UsageError(`invalid URL: ${e.message}`, e.hint);
    throw err;
  }
}

interface Parts {
  scheme: string;
  netloc: string;
  path: string;
  params: string;
  query: string;
  fragment: string;
  username: string | null;
  password: string | null;
  hostname: string | null;
  port: number | null;
}

async function showUrl(input: string, opts: ShowOpts): Promise<void> {
  const lib = await import("@netlab/url");
  const parts = asUsage((): Parts => {
    const r = lib.urlparse(input, opts.defaultScheme === undefined ? {} : { scheme: opts.defaultScheme });
    // Reading .port is where Python raises for a bad port; read it here so it is a usage error.
    return {
      scheme: r.scheme,
      netloc: r.netloc,
      path: r.path,
      params: r.params,
      query: r.query,
      fragment: r.fragment,
      username: r.username,
      password: r.password,
      hostname: r.hostname,
      port: r.port,
    };
  });
  const pairs = lib.parseQsl(parts.query, { keepBlankValues: true });
  const view = opts.whatwg ? lib.whatwg(input) : undefined;
  if (opts.json) {
    const out: Record<string, unknown> = { url: input, ...parts, queryPairs: pairs };
    if (view) out.whatwg = view;
    // One object on one line, as every --json; a URL may carry bidi or C1 controls: escaped.
    process.stdout.write(`${safeJson(JSON.stringify(out))}\n`);
    return;
  }
  process.stdout.write(view ? sideBySide(parts, view) : table(parts));
  process.stdout.write(queryTable(parts.query, pairs));
}

const color = !process.env.NO_COLOR && process.stdout.isTTY;
const dim = (s: string) => (color ? `\x1b[2m${s}\x1b[22m` : s);

/** How a value reads in the table: empty and None are spelled out, control characters escaped. */
function show(value: string | number | null): string {
  if (value === null) return dim("(none)");
  if (value === "") return dim("(empty)");
  const text = String(value);
  return /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u.test(text) ? JSON.stringify(text) : text;
}

function table(parts: Parts): string {
  const rows = [...PARTS, ...NETLOC_PARTS].map((k) => `${k.padEnd(10)}${show(parts[k])}`);
  return `${rows.join("\n")}\n`;
}

function sideBySide(parts: Parts, view: ReturnType<UrlLib["whatwg"]>): string {
  const whatwgValue = (k: string): string => {
    if (!view.ok) return k === "scheme" ? `invalid: ${view.error}` : "";
    const v = view as unknown as Record<string, string>;
    const map: Record<string, string | undefined> = {
      scheme: v.scheme,
      netloc: undefined,
      path: v.path,
      params: undefined,
      query: v.query,
      fragment: v.fragment,
      username: v.username,
      password: v.password,
      hostname: v.hostname,
      port: v.port,
    };
    const value = map[k];
    return value === undefined ? dim("-") : show(value);
  };
  const keys = [...PARTS, ...NETLOC_PARTS];
  const left = keys.map((k) => show(parts[k]));
  const width = Math.max(16, ...left.map((s) => visibleLength(s))) + 2;
  const lines = [`${"".padEnd(10)}${"python".padEnd(width)}whatwg`];
  keys.forEach((k, i) => {
    lines.push(`${k.padEnd(10)}${left[i]}${" ".repeat(width - visibleLength(left[i]!))}${whatwgValue(k)}`);
  });
  if (view.ok) lines.push(`${"href".padEnd(10)}${dim("-".padEnd(width))}${view.href}`);
  return `${lines.join("\n")}\n`;
}

function visibleLength(s: string): number {
  return [...s.replace(/\x1b\[[0-9;]*m/g, "")].length;
}

function queryTable(query: string, pairs: Array<[string, string]>): string {
  if (!query) return "";
  if (pairs.length === 0) return `\nquery fields: none\n`;
  const width = Math.min(30, Math.max(...pairs.map(([k]) => [...show(k)].length))) + 2;
  const lines = pairs.map(([k, v]) => `  ${show(k).padEnd(width)}${show(v)}`);
  return `\nquery fields (parse_qsl, blank values kept):\n${lines.join("\n")}\n`;
}

async function buildUrl(opts: BuildOpts, cmd: Command): Promise<void> {
  refuseShortFlags("lab url build", opts, BUILD_SHORTS);
  const lib = await import("@netlab/url");
  if (opts.netloc !== undefined && (opts.host ?? opts.user ?? opts.port ?? opts.password) !== undefined) {
    throw new UsageError("give either --netloc or --host/--user/--password/--port, not both");
  }
  let netloc = opts.netloc ?? "";
  if (opts.host !== undefined) {
    const host = opts.host.includes(":") && !opts.host.startsWith("[") ? `[${opts.host}]` : opts.host;
    if (opts.port !== undefined && !/^[0-9]+$/.test(opts.port)) {
      throw new UsageError(`--port must be a number from 0 to 65535, got ${JSON.stringify(opts.port)}`);
    }
    if (opts.password !== undefined && opts.user === undefined)
      throw new UsageError("--password needs --user");
    const userinfo =
      opts.user === undefined
        ? ""
        : `${lib.quote(opts.user, { safe: "" })}${opts.password === undefined ? "" : `:${lib.quote(opts.password, { safe: "" })}`}@`;
    netloc = `${userinfo}${host}${opts.port === undefined ? "" : `:${opts.port}`}`;
  } else if (opts.user !== undefined || opts.port !== undefined || opts.password !== undefined) {
    throw new UsageError("--user, --password and --port need --host");
  }
  const fields = opts.field.map((f): [string, string] => {
    const eq = f.indexOf("=");
    if (eq < 0) throw new UsageError(`-f wants name=value, got ${JSON.stringify(f)}`);
    return [f.slice(0, eq), f.slice(eq + 1)];
  });
  const encoded = fields.length ? asUsage(() => lib.urlencode(fields)) : "";
  const query = [opts.query ?? "", encoded].filter(Boolean).join("&");
  const url = lib.urlunparse([
    opts.scheme ?? "",
    netloc,
    opts.path ?? "",
    opts.params ?? "",
    query,
    opts.fragment ?? "",
  ]);
  // What we print must read back: check it the way `lab url` would.
  asUsage(() => lib.urlsplit(url).port);
  printResult(cmd, "url", url);
}
