import { constants } from "node:fs";
import path from "node:path";
import { UNSAFE_TEXT } from "@netlab/core";
import { TransferError } from "./errors.js";

/** Suffix of a file being received: `NAME.part`, renamed to NAME once verified. */
export const PART_SUFFIX = ".part";

/** Longest path segment accepted, in bytes, leaving room for `.part` within the usual 255. */
export const MAX_SEGMENT_BYTES = 250;

/** Most path segments in one name (`a/b/c.txt` has 3), unless a server says otherwise. */
export const MAX_NAME_DEPTH = 64;

/** Which names a server serves besides plain ones, and how deep. */
export interface NameRules {
  /** Serve names with a segment starting with `.` (dotfiles, `.git/…`). Default false. */
  dotfiles?: boolean;
  /**
   * Most path segments in a name (`a/b/c.txt` has 3): each is a folder opened (and maybe made)
   * on the way, so a name cannot make the server walk or create folders without bound.
   * Default {@link MAX_NAME_DEPTH} (64).
   */
  maxDepth?: number;
}

// Names Windows reserves for devices, with or without an extension (`nul.txt` is still NUL).
const DEVICE = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³]|conin\$|conout\$|clock\$)(\..*)?$/i;
// Only dots and spaces: `...`, `. .`; Windows drops trailing dots and spaces, so these name nothing sane.
const DOTS_AND_SPACES = /^[. ]+$/;

/** Characters of a refused name quoted in its error: the reason must survive the one-line cut. */
const MAX_QUOTED_NAME_CHARS = 100;

function invalid(name: string, why: string, hint?: string): TransferError {
  const shown = name.length > MAX_QUOTED_NAME_CHARS ? `${name.slice(0, MAX_QUOTED_NAME_CHARS - 1)}…` : name;
  return new TransferError("INVALID_NAME", `invalid name ${JSON.stringify(shown)}: ${why}`, {
    hint: hint ?? "use a relative path inside the served folder, with / between folders (e.g. in/a.bin)",
  });
}

/**
 * Checks that `name` is a plain relative path and returns its segments. Refused: empty names,
 * absolute paths (`/x`, `C:x`, `\\x`), backslashes, `.`/`..`/empty segments, segments of only dots
 * and spaces, control characters and the other text a terminal could act on (C0, DEL, C1, bidi
 * overrides and isolates, U+2028/U+2029, BOM: `UNSAFE_TEXT`), Windows device names (CON, NUL,
 * COM1, LPT1, ... with any extension), segments over {@link MAX_SEGMENT_BYTES}, the reserved
 * `.part` suffix in any case on any segment, more than `rules.maxDepth` segments (default 64), and
 * (unless `rules.dotfiles`) segments starting with `.`.
 * @example splitName("in/a.bin") // → ["in", "a.bin"]
 */
export function splitName(name: string, rules: NameRules = {}): string[] {
  if (name.length === 0) throw invalid(name, "empty");
  if (name.includes("\0")) throw invalid(name, "contains a NUL byte");
  if (UNSAFE_TEXT.test(name)) throw invalid(name, "contains a control character or bidi mark");
  if (name.startsWith("/")) throw invalid(name, "absolute paths are not allowed");
  if (/^[a-zA-Z]:/.test(name)) throw invalid(name, "drive-letter paths are not allowed");
  if (name.includes("\\")) throw invalid(name, "backslashes are not allowed");
  const segments = name.split("/");
  for (const segment of segments) {
    if (segment === "..") throw invalid(name, "'..' is not allowed");
    if (segment === "." || segment === "") throw invalid(name, "empty or '.' path segments are not allowed");
    checkSegment(name, segment, rules);
  }
  const maxDepth = rules.maxDepth ?? MAX_NAME_DEPTH;
  if (segments.length > maxDepth) {
    throw invalid(
      name,
      `${segments.length} path segments, more than the server's limit of ${maxDepth}`,
      "use a shallower path, or start 'lab files' with a larger --max-depth",
    );
  }
  return segments;
}

/**
 * The checks on one segment of `name` that also apply to the components of a symlink's target
 * (`.` and `..` excepted, which the resolver handles): no dot-and-space-only names, no device
 * names, no over-long segments, no `.part` suffix, no dotfiles unless `rules.dotfiles`.
 */
export function checkSegment(name: string, segment: string, rules: NameRules = {}): void {
  if (DOTS_AND_SPACES.test(segment)) throw invalid(name, "a path segment is only dots and spaces");
  if (segment.startsWith(".") && rules.dotfiles !== true) {
    throw invalid(
      name,
      "names starting with '.' are not served",
      "the server hides dotfiles; 'lab files --dotfiles' serves them",
    );
  }
  if (DEVICE.test(segment)) throw invalid(name, `'${segment}' is a reserved device name`);
  if (Buffer.byteLength(segment) > MAX_SEGMENT_BYTES) {
    throw invalid(name, `a path segment is longer than ${MAX_SEGMENT_BYTES} bytes`);
  }
  if (segment.toLowerCase().endsWith(PART_SUFFIX)) {
    throw invalid(name, `the '${PART_SUFFIX}' suffix is reserved for partial files`);
  }
}

/** Whether `child` is `root` or inside it (both absolute, real paths). */
export function isWithin(root: string, child: string): boolean {
  const rel = path.relative(root, child);
  return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
}

/** The error for a name that a symlink leads out of the served folder. */
export function outside(name: string): TransferError {
  return new TransferError("OUTSIDE_ROOT", `${JSON.stringify(name)} leads outside the served folder`, {
    hint: "a symlink inside the folder points elsewhere; only files inside the folder are served",
  });
}

/** open(2) flags for a `.part`: create if missing, never follow a symlink planted in its place. */
export const PART_OPEN_FLAGS = constants.O_RDWR | constants.O_CREAT | (constants.O_NOFOLLOW ?? 0);
