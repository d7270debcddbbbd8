import { createRequire } from "node:module";

/**
 * The confusable skeleton of UTS #39 (Unicode Security Mechanisms, section 4): two strings that
 * people can mistake for one another have the same skeleton. The table is Unicode's own
 * confusables.txt (the "MA" prototype mappings, Unicode 13.0, 6 311 characters: Cyrillic, Greek,
 * Armenian, Cherokee, fullwidth, mathematical alphanumerics, digits like 0/O and 1/l/I, `m`/`rn`
 * and the rest), as shipped by the `unhomoglyph` package (MIT, data.json, no code run at load).
 *
 * Skeletons are for comparing, never for showing: `m` becomes `rn`, `0` becomes `O`.
 * @example skeleton("ѕerver") === skeleton("server") // true (U+0455 Cyrillic dze looks like s)
 */
export function skeleton(text: string): string {
  // Guest names and most nicks are ASCII: NFD leaves them as they are and ASCII_PROTOTYPES holds
  // every ASCII entry of the table, so they never load it.
  if (ASCII_WORD.test(text)) return text.replace(ASCII_CONFUSABLE, (ch) => ASCII_PROTOTYPES[ch] ?? ch);
  const table = prototypes();
  let out = "";
  // UTS #39: skeleton(X) = NFD(map every character of NFD(X) to its prototype).
  for (const ch of text.normalize("NFD")) out += table.get(ch) ?? ch;
  return out.normalize("NFD");
}

/**
 * The table's entries for printable ASCII characters whose prototypes are ASCII too (`%` maps to
 * `º/₀`, so a string with `%` takes the table's path). A unit test checks this against the table.
 */
export const ASCII_PROTOTYPES: Readonly<Record<string, string>> = {
  "0": "O",
  "1": "l",
  I: "l",
  "|": "l",
  m: "rn",
  "`": "'",
  '"': "''",
};
const ASCII_WORD = /^[\x20-\x24\x26-\x7e]*$/;
const ASCII_CONFUSABLE = /[01I|m`"]/g;

let table: ReadonlyMap<string, string> | undefined;

/**
 * The character → prototype table, read on first use: only a server that meets a non-ASCII nick or
 * room name pays the ~100 KB parse (10–30 ms), not every `lab` command that imports the chat
 * package. Read through require: a JSON import prints an ExperimentalWarning on Node 20.
 */
export function prototypes(): ReadonlyMap<string, string> {
  if (!table) {
    const data = createRequire(import.meta.url)("unhomoglyph/data.json") as Record<string, string>;
    table = new Map(Object.entries(data));
  }
  return table;
}
