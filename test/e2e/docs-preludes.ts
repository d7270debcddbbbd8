import { readFileSync } from "node:fs";

// The rest of the whole for doc blocks that are fragments of one (`<!-- prelude: NAME -->` above
// the fence; see docs.test.ts). A prelude supplies only what the reader brings: their own names,
// data and files. Each one runs the fragment for real and, where it prints, against the doc's
// shown output.

/** What a prelude adds around a block. */
export interface Prelude {
  /** TypeScript placed before the block (imports may come after code: ES modules hoist them). */
  before?: string;
  /** TypeScript placed after the block: uses what it defined, so it really runs. */
  after?: string;
  /** Shell commands run first in the block's folder (files the block names). */
  sh?: string;
  /** Extra modules, bundled next to the block under these names (a worker's file). */
  files?: Record<string, string>;
}

/** docs/proxy.md's rtt.mjs, as the doc shows it (the block after the one that runs it). */
const RTT = (() => {
  const doc = readFileSync(new URL("../../docs/proxy.md", import.meta.url), "utf8");
  return doc.split("with `rtt.mjs`:\n\n```js\n")[1]!.split("```")[0]!;
})();

export const PRELUDES: Record<string, Prelude> = {
  // docs/transfer.md: the files the commands name: a.bin, b.bin and movie.mkv here, big.iso on the server.
  "big-files": {
    sh: "head -c 300000 /dev/urandom > a.bin; head -c 200000 /dev/urandom > b.bin; head -c 3000000 /dev/urandom > movie.mkv; mkdir -p shared; head -c 4000000 /dev/urandom > shared/big.iso",
  },
  // docs/transfer.md: the served folder and the file of "Try it" above.
  "shared-folder": { sh: "mkdir -p shared; echo hello > test.txt" },
  // docs/tls.md: the folder and the report the example serves and sends.
  "report-pdf": { sh: "mkdir -p shared; head -c 50000 /dev/urandom > report.pdf" },
  // docs/proxy.md: rtt.mjs as the doc shows it.
  rtt: { sh: `cat > rtt.mjs <<'EOF'\n${RTT}EOF` },
  // docs/cluster.md: the reader's program goes on; here it ends once connected.
  "close-client": { after: "await client.close();" },
  // docs/check.md: the reader's servers are the tutorial's own, from test/fixtures/check.
  "check-programs": {
    sh: 'cp "$DOCS_ROOT/test/fixtures/check/echo_server.py" .; cp "$DOCS_ROOT/test/fixtures/check/budget_chat.py" chat.py',
  },
  "check-submissions": {
    sh: 'mkdir -p reports submissions/ann submissions/bob; for s in ann bob; do cp "$DOCS_ROOT/test/fixtures/check/budget_chat.py" submissions/$s/chat_server.py; done',
  },
  "check-client": { sh: 'cp "$DOCS_ROOT/test/fixtures/check/line_client.py" client.py' },
};
