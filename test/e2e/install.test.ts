import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { LAB_BIN, runLab, runProcess } from "../helpers/lab.js";

const root = fileURLToPath(new URL("../../", import.meta.url));
const cliDir = join(root, "apps/cli");
const VERSION = (JSON.parse(readFileSync(join(cliDir, "package.json"), "utf8")) as { version: string })
  .version;
const temp = mkdtempSync(join(tmpdir(), "lab-install-"));
afterAll(() => rmSync(temp, { recursive: true, force: true }));

/** A PATH with only `dir` and the folder of the node running the tests (for `#!/usr/bin/env node`). */
const pathWith = (dir: string) => [dir, dirname(process.execPath), "/usr/bin", "/bin"].join(delimiter);

describe("#20: lab on PATH, --version, completion, a packed CLI", () => {
  it("links lab beside pnpm on PATH at the end of pnpm install, and lab runs from there", async () => {
    const bin = mkdtempSync(join(temp, "bin-"));
    writeFileSync(join(bin, "pnpm"), "#!/bin/sh\n", { mode: 0o755 });
    const link = await runProcess(process.execPath, [join(root, "scripts/link-lab.mjs")], {
      env: { PATH: pathWith(bin), NETLAB_LINK_DIR: "" },
    });
    expect(link.stderr).toBe(`lab: linked ${join(bin, "lab")} -> ${LAB_BIN}\n`);
    const r = await runProcess("lab", ["--version"], { env: { PATH: pathWith(bin) } });
    expect(r).toMatchObject({ code: 0, stdout: `${VERSION}\n` });
    // A second install (another checkout, a re-install) replaces its own link and nothing else.
    const again = await runProcess(process.execPath, [join(root, "scripts/link-lab.mjs")], {
      env: { PATH: pathWith(bin) },
    });
    expect(again).toMatchObject({ code: 0, stderr: "" });
  });

  it("leaves a lab that is not netlab's alone and says how to add it", async () => {
    const bin = mkdtempSync(join(temp, "bin-"));
    writeFileSync(join(bin, "pnpm"), "#!/bin/sh\n", { mode: 0o755 });
    symlinkSync("/bin/true", join(bin, "lab"));
    const r = await runProcess(process.execPath, [join(root, "scripts/link-lab.mjs")], {
      env: { PATH: pathWith(bin) },
    });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^lab: not linked: .*lab exists and is not netlab's; add it yourself: ln -s /);
  });

  it("prints the package's version for --version", async () => {
    expect(await runLab(["--version"])).toMatchObject({ code: 0, stdout: `${VERSION}\n` });
  });

  it("completes commands, subcommands and options in bash from the program itself", async () => {
    const complete = (words: string[]) =>
      runProcess("bash", [
        "-c",
        `source <("${process.execPath}" "${LAB_BIN}" completion bash) && COMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")}) && COMP_CWORD=${words.length - 1} && _lab_complete && echo "\${COMPREPLY[*]}"`,
      ]);
    const top = await complete(["lab", ""]);
    expect(top.stdout.trim().split(" ")).toEqual(
      expect.arrayContaining(["demo", "server", "client", "files", "transfer", "udp", "get", "completion"]),
    );
    expect((await complete(["lab", "udp", "p"])).stdout.trim()).toBe("ping");
    expect((await complete(["lab", "udp", "ping", "--cou"])).stdout.trim()).toBe("--count");
    expect((await complete(["lab", "server", "--max-c"])).stdout.trim()).toBe("--max-clients");
  });

  it("offers options only for a word that starts with -, and nothing (so the shell lists files) for an argument or an option's value", async () => {
    const complete = async (words: string[]) =>
      (
        await runProcess("bash", [
          "-c",
          `source <("${process.execPath}" "${LAB_BIN}" completion bash) && COMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")}) && COMP_CWORD=${words.length - 1} && _lab_complete && echo "\${COMPREPLY[*]}"`,
        ])
      ).stdout.trim();
    // Before: every word was offered the options, so TAB on an empty word typed their common "-".
    expect(await complete(["lab", "replay", ""])).toBe("");
    expect(await complete(["lab", "session", "export", "chat.jsonl", "--pcap", ""])).toBe("");
    expect(await complete(["lab", "udp", "ping", "--port", ""])).toBe("");
    expect(await complete(["lab", "udp", "echo", "--port", "-"])).toBe("");
    expect(await complete(["lab", "udp", ""])).toBe("echo ping send listen");
    expect(await complete(["lab", "udp", "-"])).toBe("--help -h");
    expect((await complete(["lab", "replay", "chat.jsonl", "--"])).split(" ")).toContain("--as-server");
    // An option with an optional value (--hexdump [file]) leaves the next word free.
    expect(await complete(["lab", "udp", "ping", "--hexdump", "--j"])).toBe("--json");
    expect((await complete(["lab", ""])).split(" ")).not.toContain("--help");
  });

  it("prints zsh and fish scripts, and refuses another shell with a hint", async () => {
    expect((await runLab(["completion", "zsh"])).stdout).toMatch(/^#compdef lab\n.*bashcompinit/);
    const fish = await runLab(["completion", "fish"]);
    expect(fish.stdout).toContain("complete -c lab -f -n '__fish_use_subcommand' -a server");
    expect(fish.stdout).toContain("__fish_seen_subcommand_from udp; and __fish_seen_subcommand_from ping");
    const bad = await runLab(["completion", "tcsh"]);
    expect(bad).toMatchObject({
      code: 2,
      stderr: "lab: no completion for shell 'tcsh'\nhint: use one of: bash, zsh, fish\n",
    });
  });

  it("packs with pnpm pack and installs from the tarball offline, with nothing but Node", {
    timeout: 180_000,
  }, async () => {
    const out = mkdtempSync(join(temp, "pack-"));
    const pack = await runProcess("pnpm", ["pack", "--pack-destination", out], {
      cwd: cliDir,
      timeoutMs: 120_000,
    });
    expect(pack.code, pack.stderr).toBe(0);
    const tarball = join(out, `netlab-cli-${VERSION}.tgz`);
    const prefix = join(temp, "prefix");
    const install = await runProcess(
      "npm",
      ["install", "-g", "--offline", "--no-audit", "--no-fund", "--prefix", prefix, tarball],
      { timeoutMs: 120_000, env: { npm_config_cache: join(temp, "empty-cache") } },
    );
    expect(install.code, install.stderr).toBe(0);
    const lab = join(prefix, "bin", "lab");
    // Nothing of the workspace is reachable from the prefix: every package is in the bundle.
    expect(
      await runProcess(lab, ["--version"], { env: { PATH: pathWith(join(prefix, "bin")) } }),
    ).toMatchObject({
      code: 0,
      stdout: `${VERSION}\n`,
    });
    const url = await runProcess(lab, ["url", "--json", "http://example.test:8080/a?b=1"], {
      env: { PATH: pathWith(join(prefix, "bin")) },
    });
    expect(url.code, url.stderr).toBe(0);
    expect(JSON.parse(url.stdout)).toMatchObject({ netloc: "example.test:8080" });
    const chat = await runProcess(lab, ["client", "--nick", "x!"], {
      env: { PATH: pathWith(join(prefix, "bin")) },
    });
    expect(chat.stderr).toMatch(/^lab: .*nick/);
    const bench = await runProcess(lab, ["bench"], { env: { PATH: pathWith(join(prefix, "bin")) } });
    expect(bench).toMatchObject({ code: 1 });
    expect(bench.stderr).toMatch(/^lab: lab bench is not part of this installed lab/);
  });
});
