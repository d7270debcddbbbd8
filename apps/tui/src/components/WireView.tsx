import { plural } from "@netlab/core";
import { Box, Text } from "ink";
import type { Rect } from "../layout.js";
import type { ClientView } from "../model.js";
import { blankPartialTop, formatBytes, oneLine, tail, truncate } from "../text.js";
import { useTheme } from "../theme.js";
import { WIRE_MARKS, type WireRole, type WireRow, wireRows, wireTotals } from "../wire.js";
import { Pane, paneInner } from "./Pane.js";

/** Props for {@link WireView}. */
export interface WireViewProps {
  client: ClientView;
  rect: Rect;
  /** Rows scrolled up from the bottom. */
  offset?: number;
}

/**
 * The bytes crossing one client's socket, newest at the bottom: each write (→) and read (←) on its
 * own row, `⏎` where a message ended, `┃` where the read or write ended — so "one recv is one
 * message" can be seen to be false.
 */
export function WireView({ client, rect, offset = 0 }: WireViewProps) {
  const theme = useTheme();
  const inner = paneInner(rect);
  const height = Math.max(1, rect.height - 4);
  const totals = wireTotals(client.wire);
  const title = oneLine(`wire · client ${client.id} ${client.nick}`);
  const summary = `  → ${formatBytes(totals.outBytes)} in ${plural(totals.outWrites, "write")}  ← ${formatBytes(totals.inBytes)} in ${plural(totals.inReads, "read")}`;
  const rows = wireRows(client.wire, inner);
  const isTls = client.wire.some((c) => c.tls);
  const legend = isTls
    ? "TLS: the bytes on the wire are ciphertext (hex); the pane shows the plaintext"
    : `→ write  ← read  ${WIRE_MARKS.messageEnd} end of message  ${WIRE_MARKS.readEnd} end of read/write`;
  const view = tail(rows, height, offset);
  // A chunk's later rows start with blank label space; without their first row they say nothing.
  const visible = blankPartialTop(
    view.visible,
    (row) => row[0]?.text.startsWith(" ") === true,
    (): WireRow => [{ role: "text", text: " " }],
  );
  const roleColor = (role: WireRole): string | undefined => {
    if (role === "out") return theme.out;
    if (role === "in") return theme.in;
    if (role === "message-end" || role === "read-end") return theme.mark;
    if (role === "note" || role === "escape") return theme.accent;
    return undefined;
  };
  return (
    <Pane rect={rect} borderColor={theme.accent}>
      <Text wrap="truncate">
        <Text bold color={theme.accent}>
          {title}
        </Text>
        <Text color={theme.dim}>{truncate(summary, Math.max(0, inner - title.length))}</Text>
      </Text>
      <Text color={theme.dim} wrap="truncate">
        {truncate(legend, inner)}
      </Text>
      <Box flexDirection="column" height={height}>
        {rows.length === 0 ? (
          <Text color={theme.dim}>no bytes yet: type in this client</Text>
        ) : (
          visible.map((row, i) => (
            // Rows have no identity beyond their place in the window.
            // biome-ignore lint/suspicious/noArrayIndexKey: see above
            <Text key={i} wrap="truncate">
              {row.map((seg, j) => (
                // biome-ignore lint/suspicious/noArrayIndexKey: segments are positional
                <Text key={j} color={roleColor(seg.role)} bold={seg.role === "read-end"}>
                  {seg.text}
                </Text>
              ))}
            </Text>
          ))
        )}
      </Box>
    </Pane>
  );
}
