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
  const table = prototypes();
  let out = "";
  // UTS #39: skeleton(X) = NFD(map every character of NFD(X) to its prototype).
  for (const ch of text.normalize("NFD")) out += table.get(ch) ?? ch;
  return out.normalize("NFD");
}

let table: ReadonlyMap<string, string> | undefined;

/**
 * The character → prototype table, read on first use: only a server that checks nicks pays the
 * ~100 KB parse (about 2 ms), not every `lab` command that imports the chat package. Read through
 * require: a JSON import would print an ExperimentalWarning on Node 20.
 */
function prototypes(): ReadonlyMap<string, string> {
  if (!table) {
    const data = createRequire(import.meta.url)("unhomoglyph/data.json") as Record<string, string>;
    table = new Map(Object.entries(data));
  }
  return table;
}
