import { Text } from "ink";
import type { Rect } from "../layout.js";
import type { ClientView } from "../model.js";
import { oneLine, truncate } from "../text.js";
import { stateGlyph, useTheme } from "../theme.js";
import { InputLine } from "./InputLine.js";
import { ClientHeader, Pane, paneInner } from "./Pane.js";
import { Transcript } from "./Transcript.js";

/** Props for {@link ClientPane}. */
export interface ClientPaneProps {
  client: ClientView;
  rect: Rect;
  isFocused: boolean;
  input: string;
  /** Transcript rows scrolled up from the bottom. */
  offset?: number;
}

/**
 * One client: a header (number, nick, state, room), its transcript and its input line, in a
 * rounded border; the focused one gets a heavy border, a `▶` and the accent colour.
 */
export function ClientPane({ client, rect, isFocused, input, offset = 0 }: ClientPaneProps) {
  const theme = useTheme();
  const inner = paneInner(rect);
  const transcriptHeight = Math.max(1, rect.height - 4);
  const room = client.room ? `  ${oneLine(client.room)}` : "";
  const marker = isFocused ? "▶ " : "";
  const stateText = `${stateGlyph(client.state)} ${client.state}`;
  // Cluster scene: the node this client is on, so `a→b` in its transcript reads at a glance; a
  // narrow pane drops it before it would cut the nick.
  const nickWidth = Math.max(4, inner - stateText.length - 2);
  const withNode = `${marker}${client.id} ${client.nick}${client.node ? ` @${client.node}` : ""}`;
  const nick =
    [...withNode].length <= nickWidth
      ? withNode
      : truncate(`${marker}${client.id} ${client.nick}`, nickWidth);
  return (
    <Pane rect={rect} isFocused={isFocused}>
      <ClientHeader name={nick} isFocused={isFocused} state={client.state}>
        <Text color={theme.dim}>
          {/* The room only when it fits whole: "#…" says nothing. */}
          {[...room].length <= inner - [...nick].length - stateText.length - 2 ? room : ""}
        </Text>
      </ClientHeader>
      <Transcript lines={client.transcript} width={inner} height={transcriptHeight} offset={offset} />
      <InputLine value={input} width={inner} isFocused={isFocused} state={client.state} />
    </Pane>
  );
}
