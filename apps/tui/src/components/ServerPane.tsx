import { formatHostPort, formatPeer, plural } from "@netlab/core";
import { Box, Text } from "ink";
import type { Rect } from "../layout.js";
import type { PeerView, ServerView } from "../model.js";
import { fit, formatBytes, truncate } from "../text.js";
import { useTheme } from "../theme.js";
import { Pane, paneInner, ServerHeader } from "./Pane.js";
import { Transcript } from "./Transcript.js";

/** Props for {@link ServerPane}. */
export interface ServerPaneProps {
  server: ServerView;
  rect: Rect;
}

const PEER_COLUMNS = [
  { title: "nick", width: 9 },
  { title: "address", width: 16 },
  { title: "in", width: 8, right: true },
  { title: "out", width: 8, right: true },
  { title: "msgs", width: 5, right: true },
] as const;
const PEERS_WIDTH = PEER_COLUMNS.reduce((n, c) => n + c.width + 1, 0);

/**
 * The server: its address and state in the header with message rate and byte totals, the
 * connected peers as a table, and the live event log (connects, joins, disconnects, errors).
 * Side by side when wide enough, stacked otherwise.
 */
export function ServerPane({ server, rect }: ServerPaneProps) {
  const inner = paneInner(rect);
  const bodyHeight = Math.max(1, rect.height - 3);
  const isSideBySide = inner >= PEERS_WIDTH + 24;
  const peersHeight = isSideBySide
    ? bodyHeight
    : Math.min(Math.max(2, server.peers.length + 1), Math.ceil(bodyHeight / 2));
  const logHeight = isSideBySide ? bodyHeight : Math.max(0, bodyHeight - peersHeight);
  const logWidth = isSideBySide ? inner - PEERS_WIDTH - 1 : inner;
  const title = server.cluster
    ? `nodes ${server.cluster.nodes.map((n) => n.id).join(" and ")} via Redis ${server.cluster.redis}`
    : server.port === 0
      ? "server"
      : `server ${formatHostPort(server.host, server.port)}`;
  const stats = `  ${plural(server.peers.length, "peer")}  ${server.messagesPerSecond.toFixed(1)} msg/s  ${plural(server.messagesTotal, "msg")}  in ${formatBytes(server.bytesIn)}  out ${formatBytes(server.bytesOut)}`;
  return (
    <Pane rect={rect}>
      <ServerHeader title={title} status={server.status} stats={stats} inner={inner} />
      <Box flexDirection={isSideBySide ? "row" : "column"}>
        <Box flexDirection="column" width={isSideBySide ? PEERS_WIDTH : inner} height={peersHeight}>
          <PeerTable peers={server.peers} height={peersHeight} width={isSideBySide ? PEERS_WIDTH : inner} />
        </Box>
        {isSideBySide ? <Box width={1} /> : null}
        {logHeight > 0 ? (
          <Transcript lines={server.log} width={logWidth} height={logHeight} placeholder="no events yet" />
        ) : null}
      </Box>
    </Pane>
  );
}

function PeerTable({ peers, height, width }: { peers: readonly PeerView[]; height: number; width: number }) {
  const theme = useTheme();
  const header = PEER_COLUMNS.map((c) => cell(c.title, c.width, "right" in c)).join(" ");
  const shown = peers.slice(0, Math.max(0, height - 1));
  const hidden = peers.length - shown.length;
  if (hidden > 0 && shown.length > 0) shown.pop();
  return (
    <>
      <Text color={theme.dim} bold wrap="truncate">
        {truncate(header, width)}
      </Text>
      {peers.length === 0 ? (
        <Text color={theme.dim} wrap="truncate">
          {truncate("no peers connected", width)}
        </Text>
      ) : null}
      {shown.map((p) => (
        <Text key={p.id} wrap="truncate">
          {truncate(
            [
              cell(p.nick || "-", 9),
              cell(formatPeer(p), 16),
              cell(formatBytes(p.bytesIn), 8, true),
              cell(formatBytes(p.bytesOut), 8, true),
              cell(String(p.messagesIn), 5, true),
            ].join(" "),
            width,
          )}
        </Text>
      ))}
      {hidden > 0 ? <Text color={theme.dim}>{`+${hidden + 1} more`}</Text> : null}
    </>
  );
}

function cell(text: string, width: number, isRight = false): string {
  const t = truncate(text, width);
  return isRight ? t.padStart(width) : fit(t, width);
}
