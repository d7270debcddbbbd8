import { constants, type Stats } from "node:fs";
import { access, type FileHandle, lstat, mkdir, open, readlink, realpath, stat } from "node:fs/promises";
import path from "node:path";
import { fsError, TransferError } from "./errors.js";
import { checkSegment, type NameRules, outside, splitName } from "./names.js";

/** Symlinks followed while resolving one name before it is refused (as Linux's own limit). */
const MAX_SYMLINKS = 40;
/** Tries at one component that changes under us (a folder made for an upload vanishes, a link turns into a folder). */
const MAX_RETRIES = 8;

const O_DIRECTORY = constants.O_DIRECTORY ?? 0;
const O_NOFOLLOW = constants.O_NOFOLLOW ?? 0;
const O_NONBLOCK = constants.O_NONBLOCK ?? 0;
/** A folder, never through a symlink in its last component. */
const DIR_FLAGS = constants.O_RDONLY | O_DIRECTORY | O_NOFOLLOW;
/** A file to send: never through a symlink; O_NONBLOCK so a FIFO planted in the folder cannot hang a thread. */
const READ_FLAGS = constants.O_RDONLY | O_NOFOLLOW | O_NONBLOCK;

/**
 * A folder reached from the served root one component at a time. On Linux it holds an open
 * descriptor and names its children as `/proc/self/fd/<fd>/<child>`: the kernel resolves that from
 * the inode we hold, so swapping a folder on the way for a symlink (rename(2) in a loop) cannot
 * redirect the next step. Elsewhere it is a real path string (checked step by step, but racy).
 */
export class ServedDir {
  readonly #fh: FileHandle | undefined;
  readonly #path: string;
  readonly #owned: boolean;

  /** @internal */
  constructor(fh: FileHandle | undefined, realPath: string, owned: boolean) {
    this.#fh = fh;
    this.#path = realPath;
    this.#owned = owned;
  }

  /** The path that names `child` inside this folder (`""`: the folder itself), for open/rename/link. */
  at(child: string): string {
    const self = this.#fh === undefined ? this.#path : `/proc/self/fd/${this.#fh.fd}`;
    return child === "" ? self : `${self}/${child}`;
  }

  /** The folder's identity (`dev:ino`), the same whatever name or link led to it. */
  async key(): Promise<string> {
    const info = this.#fh === undefined ? await stat(this.#path) : await this.#fh.stat();
    return `${info.dev}:${info.ino}`;
  }

  /** Closes the descriptor, unless this is the root (closed by {@link ServedRoot.close}). */
  async close(): Promise<void> {
    if (this.#owned) await this.#fh?.close().catch(() => {});
  }

  /** @internal */
  async closeRoot(): Promise<void> {
    await this.#fh?.close().catch(() => {});
  }

  /** @internal the child folder `name`, opened without following a symlink. */
  async openChild(name: string): Promise<ServedDir> {
    const fh = await open(this.at(name), DIR_FLAGS);
    if (this.#fh !== undefined) return new ServedDir(fh, "", true);
    // No /proc: the descriptor only proved the step was a folder; the next step goes by name.
    await fh.close();
    return new ServedDir(undefined, path.join(this.#path, name), true);
  }
}

/** Options for {@link ServedRoot.open}. */
export interface ServedRootOptions extends NameRules {}

/** What {@link ServedRoot.parentFor} returns: the folder an upload goes into, and its last name. */
export interface UploadTarget {
  dir: ServedDir;
  base: string;
}

/**
 * The served folder, opened once. Every name is resolved from it component by component with
 * O_NOFOLLOW, symlinks are expanded by hand and must stay inside (a `..` above the root, or an
 * absolute target elsewhere, is OUTSIDE_ROOT), and what is returned is an open descriptor (or a
 * folder named through one), so the check is on what was opened, not on a path that can change
 * afterwards. `isRaceFree` says whether /proc/self/fd made that so (Linux); elsewhere the same steps
 * go by path and a local user racing renames could still slip between two of them.
 * @example
 * const root = await ServedRoot.open("./shared");
 * const fh = await root.openRead("in/a.bin"); // a regular file inside ./shared, or a TransferError
 */
export class ServedRoot {
  /** Real path of the folder when it was opened. */
  readonly real: string;
  /** Whether resolution goes through descriptors (/proc/self/fd), so renames racing it cannot lead outside. */
  readonly isRaceFree: boolean;
  readonly #dir: ServedDir;
  readonly #rules: NameRules;

  private constructor(real: string, dir: ServedDir, isRaceFree: boolean, rules: NameRules) {
    this.real = real;
    this.#dir = dir;
    this.isRaceFree = isRaceFree;
    this.#rules = rules;
  }

  /** Opens `folder` (NOT_FOUND if missing, NOT_A_FILE if not a folder). */
  static async open(folder: string, options: ServedRootOptions = {}): Promise<ServedRoot> {
    const real = await realpath(folder).catch(() => {
      throw new TransferError("NOT_FOUND", `folder ${folder} does not exist`, {
        hint: "create it first, or pass another folder to 'lab files'",
      });
    });
    if (!(await stat(real)).isDirectory()) {
      throw new TransferError("NOT_A_FILE", `${folder} is not a folder`, {
        hint: "'lab files' serves a folder; use 'lab files --raw FILE' to send one file",
      });
    }
    const fh = await open(real, DIR_FLAGS).catch((err) => {
      throw fsError(err, `opening ${folder}`);
    });
    const viaProc = await procNamesFd(fh);
    if (!viaProc) await fh.close();
    return new ServedRoot(real, new ServedDir(viaProc ? fh : undefined, real, false), viaProc, options);
  }

  /** The root folder itself (never closed by its users). */
  get dir(): ServedDir {
    return this.#dir;
  }

  /** Checks `name` with this server's rules and splits it (see {@link splitName}). */
  split(name: string): string[] {
    return splitName(name, this.#rules);
  }

  /** Opens a regular file inside the folder for reading; symlinks are followed only while they stay inside. */
  async openRead(name: string): Promise<{ fh: FileHandle; info: Stats }> {
    const walked = await this.#walk(name, "read");
    if (walked.kind !== "file") {
      await walked.dir.close();
      throw notAFile(name);
    }
    const info = await walked.fh.stat();
    if (!info.isFile()) {
      await walked.fh.close();
      throw notAFile(name);
    }
    return { fh: walked.fh, info };
  }

  /**
   * The folder an upload of `name` goes into, creating missing folders one at a time, and the last
   * component (never followed: the `.part` is opened O_NOFOLLOW, the rename replaces a link).
   * The caller closes `dir`.
   */
  async parentFor(name: string): Promise<UploadTarget> {
    const walked = await this.#walk(name, "write");
    if (walked.kind !== "parent") {
      if (walked.kind === "file") await walked.fh.close();
      else await walked.dir.close();
      throw new TransferError("NOT_A_FILE", `${JSON.stringify(name)} is a folder on the server`);
    }
    return { dir: walked.dir, base: walked.base };
  }

  /** Opens a folder inside the root (`""` is the root itself); symlinks only while they stay inside. */
  async openDir(name: string): Promise<ServedDir> {
    if (name === "") return this.#dir;
    const walked = await this.#walk(name, "dir");
    if (walked.kind === "dir") return walked.dir;
    if (walked.kind === "file") await walked.fh.close();
    else await walked.dir.close();
    throw new TransferError("NOT_A_FILE", `${JSON.stringify(name)} is not a folder`);
  }

  /** Closes the root's descriptor; resolving names afterwards fails. */
  async close(): Promise<void> {
    await this.#dir.closeRoot();
  }

  /**
   * Resolves `name` from the root. Each component is opened relative to the folder before it with
   * O_NOFOLLOW; a symlink met on the way is read and its target walked the same way (from the root
   * when absolute and inside `real`), so no step ever goes through a link the kernel follows.
   */
  async #walk(name: string, mode: "read" | "write" | "dir"): Promise<Walked> {
    const queue = this.split(name);
    const stack: ServedDir[] = [];
    const top = () => stack[stack.length - 1] ?? this.#dir;
    const keepOnly = async (keep: ServedDir | undefined) => {
      for (const d of stack.splice(0)) if (d !== keep) await d.close();
    };
    let links = 0;
    let retries = 0;
    try {
      while (queue.length > 0) {
        const segment = queue.shift()!;
        if (segment === "" || segment === ".") continue;
        if (segment === "..") {
          const up = stack.pop();
          if (up === undefined) throw outside(name);
          await up.close();
          continue;
        }
        // Components from link targets meet the same rules (no dotfiles, no .part) as typed names.
        checkSegment(name, segment, this.#rules);
        const isLast = queue.length === 0;
        const at = top().at(segment);
        if (isLast && mode === "write") {
          const dir = top();
          await keepOnly(dir);
          return { kind: "parent", dir, base: segment };
        }
        try {
          if (isLast && mode === "read") {
            const fh = await open(at, READ_FLAGS);
            await keepOnly(undefined);
            return { kind: "file", fh };
          }
          stack.push(await top().openChild(segment));
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code === "ENOENT" && mode === "write" && retries++ < MAX_RETRIES) {
            await mkdir(at).catch((e: NodeJS.ErrnoException) => {
              if (e.code !== "EEXIST") throw fsError(e, `creating the folder for ${name}`);
            });
            queue.unshift(segment);
            continue;
          }
          if (code === "ENOENT") throw notFound(name, mode);
          if (code !== "ELOOP" && code !== "ENOTDIR" && code !== "EMLINK")
            throw fsError(err, `opening ${name}`);
          const info = await lstat(at).catch((e) => {
            throw fsError(e, `opening ${name}`);
          });
          if (info.isDirectory() && retries++ < MAX_RETRIES) {
            // It was something else when opened and is a folder now: a rename raced us; look again.
            queue.unshift(segment);
            continue;
          }
          if (!info.isSymbolicLink()) {
            throw new TransferError(
              "INVALID_NAME",
              `invalid name ${JSON.stringify(name)}: '${segment}' is a file, not a folder`,
              {
                hint: "use a name whose folders are folders on the server",
              },
            );
          }
          if (++links > MAX_SYMLINKS)
            throw fsError(Object.assign(new Error("loop"), { code: "ELOOP" }), name);
          const target = await readlink(at).catch((e) => {
            throw fsError(e, `opening ${name}`);
          });
          if (path.isAbsolute(target)) {
            const rel = path.relative(this.real, target);
            if (rel === ".." || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel)) throw outside(name);
            await keepOnly(undefined);
            queue.unshift(...rel.split(path.sep));
          } else {
            queue.unshift(...target.split("/"));
          }
        }
      }
      // Every component was a folder (or a link to one).
      const dir = top();
      await keepOnly(dir);
      return { kind: "dir", dir };
    } catch (err) {
      await keepOnly(undefined);
      throw err;
    }
  }
}

type Walked =
  | { kind: "file"; fh: FileHandle }
  | { kind: "parent"; dir: ServedDir; base: string }
  | { kind: "dir"; dir: ServedDir };

/** Whether `/proc/self/fd/<fd>` names the folder `fh` holds (Linux with /proc mounted). */
async function procNamesFd(fh: FileHandle): Promise<boolean> {
  try {
    await access(`/proc/self/fd/${fh.fd}`);
    const [viaProc, held] = await Promise.all([stat(`/proc/self/fd/${fh.fd}`), fh.stat()]);
    return viaProc.dev === held.dev && viaProc.ino === held.ino;
  } catch {
    return false;
  }
}

function notAFile(name: string): TransferError {
  return new TransferError("NOT_A_FILE", `${JSON.stringify(name)} is not a regular file`);
}

function notFound(name: string, mode: "read" | "write" | "dir"): TransferError {
  if (mode === "write") {
    return new TransferError("NOT_FOUND", `a folder on the way to ${JSON.stringify(name)} vanished`, {
      hint: "send it again",
    });
  }
  return new TransferError("NOT_FOUND", `no file named ${JSON.stringify(name)} on the server`, {
    hint: "run 'lab transfer --list' to see what the server has",
  });
}
