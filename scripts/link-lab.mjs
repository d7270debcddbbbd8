// Puts `lab` on PATH at the end of `pnpm install` (the root `prepare` script), as `npm link` would,
// but without npm's reinstall: a symlink named `lab`, to this checkout's apps/cli/dist/bin.js, in
// the folder on PATH that holds `pnpm` itself. The README's set-up installs pnpm with `npm i -g`,
// so that folder is npm's global bin, on PATH and writable by whoever ran that install.
//
// It never replaces a `lab` that is not a link to some netlab checkout's bin.js, says what it did
// in one line, and only warns when it cannot (no pnpm on PATH, a read-only folder, Windows):
// `pnpm install` must not fail for it. NETLAB_NO_LINK=1 skips it; NETLAB_LINK_DIR=DIR links there.
import { accessSync, chmodSync, constants, lstatSync, readlinkSync, symlinkSync, unlinkSync } from "node:fs";
import { delimiter, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const target = resolve(dirname(fileURLToPath(import.meta.url)), "../apps/cli/dist/bin.js");
const say = (line) => process.stderr.write(`${line}\n`);
const manual = `add it yourself: ln -s ${target} ~/.local/bin/lab (or run pnpm lab …)`;

function pnpmDir() {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (!dir) continue;
    try {
      accessSync(join(dir, "pnpm"), constants.X_OK);
      return dir;
    } catch {}
  }
  return undefined;
}

/** A link this script made, in this or another checkout: replacing it is what a re-install means. */
function isOurs(path) {
  try {
    return (
      lstatSync(path).isSymbolicLink() && /[\\/]apps[\\/]cli[\\/]dist[\\/]bin\.js$/.test(readlinkSync(path))
    );
  } catch {
    return false;
  }
}

function link() {
  if (process.env.NETLAB_NO_LINK === "1") return;
  if (process.platform === "win32") return say(`lab: not linked on Windows; ${manual}`);
  const dir = process.env.NETLAB_LINK_DIR || pnpmDir();
  if (!dir) return say(`lab: not linked (no pnpm on PATH to put it beside); ${manual}`);
  const path = join(dir, "lab");
  chmodSync(target, 0o755);
  let existing;
  try {
    existing = lstatSync(path);
  } catch {}
  if (existing && !isOurs(path)) return say(`lab: not linked: ${path} exists and is not netlab's; ${manual}`);
  try {
    if (existing && readlinkSync(path) === target) return;
    if (existing) unlinkSync(path);
    symlinkSync(target, path);
    say(`lab: linked ${path} -> ${target}`);
  } catch (err) {
    say(`lab: not linked: ${err.code ?? err.message} for ${path}; ${manual}`);
  }
}

link();
