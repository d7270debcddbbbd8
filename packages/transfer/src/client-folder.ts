import { TransferError } from "./errors.js";
import type { FolderWalkOptions } from "./folder.js";
import type { Entry } from "./header.js";
import { splitName } from "./names.js";

/** Limits of a folder fetch: the same names and defaults as a folder send's ({@link FOLDER_DEFAULTS}). */
export interface FolderFetchOptions extends FolderWalkOptions {}

/** One file of a folder fetch. */
export interface FetchItem {
  /** Name on the server. */
  name: string;
  /** Path under the destination folder, with `/` between segments. */
  rel: string;
  /** Size the listing gave, in bytes. */
  size: number;
}

/** What a folder fetch will download. */
export interface FolderFetch {
  items: FetchItem[];
}

/** Characters of a hostile name quoted in an error. */
const MAX_QUOTED_CHARS = 100;

/**
 * Checks a server's listing for a fetch of `folder` and maps it to local paths. The listing is
 * hostile input: one name that is not a plain relative path (`..`, absolute, NUL, backslash,
 * control characters, a `.part` suffix, ... as {@link splitName}), a name listed twice, more than
 * `maxFiles` files, a file more than `maxDepth` folders below `folder`, or a listing the server cut
 * short refuses the whole fetch before anything is written. Names outside `folder` (a server that
 * ignores the listing's `prefix`) are left out. Dotfiles are accepted: the server chose to list them.
 */
export function planFolderFetch(
  folder: string,
  listed: { entries: Entry[]; truncated: boolean },
  options: Required<FolderFetchOptions>,
): FolderFetch {
  const refuse = (message: string, hint: string) =>
    new TransferError("BAD_REQUEST", `${message}; nothing was fetched`, { hint });
  if (listed.truncated) {
    throw new TransferError(
      "TOO_LARGE",
      `the server cut its listing of ${folder}/ short at ${listed.entries.length} files; nothing was fetched`,
      { hint: "fetch its subfolders one at a time, or raise the server's --max-list-entries" },
    );
  }
  if (listed.entries.length > options.maxFiles) {
    throw new TransferError(
      "TOO_LARGE",
      `${folder}/ on the server holds more than ${options.maxFiles} files; nothing was fetched`,
      {
        hint: "fetch a smaller folder, or raise --max-files",
      },
    );
  }
  const items: FetchItem[] = [];
  const seen = new Set<string>();
  const under = `${folder}/`;
  for (const e of listed.entries) {
    try {
      splitName(e.name, { dotfiles: true, maxDepth: Number.POSITIVE_INFINITY });
    } catch (err) {
      throw refuse(
        `the server listed a name no file may have: ${(err as Error).message.replace(/^invalid name /, "")}`,
        "is that a 'lab files' server? it never lists such names",
      );
    }
    if (seen.has(e.name))
      throw refuse(`the server listed ${quote(e.name)} twice`, "is that a 'lab files' server?");
    seen.add(e.name);
    if (!e.name.startsWith(under)) continue;
    const rel = e.name.slice(under.length);
    const depth = rel.split("/").length - 1;
    if (depth > options.maxDepth) {
      throw new TransferError(
        "TOO_LARGE",
        `${quote(e.name)} is nested more than ${options.maxDepth} folders below ${folder}/; nothing was fetched`,
        { hint: "fetch a subfolder, or raise --max-depth" },
      );
    }
    items.push({ name: e.name, rel, size: e.size });
  }
  if (items.length === 0) {
    throw new TransferError("NOT_FOUND", `no files under ${quote(under)} on the server`, {
      hint: "check the name with: lab transfer --list",
    });
  }
  return { items };
}

function quote(name: string): string {
  const shown = name.length > MAX_QUOTED_CHARS ? `${name.slice(0, MAX_QUOTED_CHARS - 1)}…` : name;
  return JSON.stringify(shown);
}
