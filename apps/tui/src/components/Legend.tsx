import { Text } from "ink";
import { useTheme } from "../theme.js";

/** One key and what it does, in a long and a short form. */
export interface LegendItem {
  keys: string;
  label: string;
  short: string;
}

/** The demo's keys, in the order the legend shows them. */
export const LEGEND: readonly LegendItem[] = [
  { keys: "Tab/⇧Tab", label: "focus", short: "focus" },
  { keys: "Enter", label: "send", short: "send" },
  { keys: "^N", label: "add client", short: "add" },
  { keys: "^D", label: "drop/reconnect", short: "drop" },
  { keys: "^R", label: "restart server", short: "restart" },
  { keys: "^W", label: "wire view", short: "wire" },
  { keys: "PgUp/PgDn", label: "scroll", short: "scroll" },
  { keys: "^C", label: "quit", short: "quit" },
];

/** The UDP scene's keys. */
export const UDP_LEGEND: readonly LegendItem[] = [
  { keys: "Tab/⇧Tab", label: "focus", short: "focus" },
  { keys: "^N", label: "add pinger", short: "add" },
  { keys: "^D", label: "stop/start pinger", short: "stop" },
  { keys: "+/-", label: "loss ±5%", short: "loss" },
  { keys: "</>", label: "delay ±10 ms", short: "delay" },
  { keys: "^R", label: "restart server", short: "restart" },
  { keys: "PgUp/PgDn", label: "scroll", short: "scroll" },
  { keys: "^C", label: "quit", short: "quit" },
];

/** The transfer scene's keys. */
export const TRANSFER_LEGEND: readonly LegendItem[] = [
  { keys: "Tab/⇧Tab", label: "focus", short: "focus" },
  { keys: "Enter", label: "upload another file", short: "upload" },
  { keys: "^N", label: "add uploader", short: "add" },
  { keys: "^R", label: "restart server", short: "restart" },
  { keys: "PgUp/PgDn", label: "scroll", short: "scroll" },
  { keys: "^C", label: "quit", short: "quit" },
];

/** The legend's text at `width`: the long form if it fits, then the short one, then keys only. */
export function legendItems(
  width: number,
  items: readonly LegendItem[] = LEGEND,
): Array<{ keys: string; label: string }> {
  const forms = [
    items.map((i) => ({ keys: i.keys, label: i.label })),
    items.map((i) => ({ keys: i.keys, label: i.short })),
    items.filter((i) => i.keys !== "PgUp/PgDn").map((i) => ({ keys: i.keys, label: i.short })),
  ];
  for (const form of forms) {
    const length = form.reduce((n, i) => n + i.keys.length + 1 + i.label.length + 2, 0);
    if (length <= width) return form;
  }
  return forms[2]!;
}

/** The one-line key legend at the bottom of the frame. */
export function Legend({ width, items = LEGEND }: { width: number; items?: readonly LegendItem[] }) {
  const theme = useTheme();
  return (
    <Text wrap="truncate">
      {legendItems(width, items).map((item) => (
        <Text key={item.keys}>
          <Text bold color={theme.accent} inverse={!theme.isColor}>
            {item.keys}
          </Text>
          <Text color={theme.dim}>{` ${item.label}  `}</Text>
        </Text>
      ))}
    </Text>
  );
}
