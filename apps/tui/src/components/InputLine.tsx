import { Text } from "ink";
import type { ClientState } from "../model.js";
import { fitFields, oneLine, truncate } from "../text.js";
import { useTheme } from "../theme.js";

/** Props for {@link InputLine}. */
export interface InputLineProps {
  value: string;
  width: number;
  isFocused: boolean;
  state: ClientState;
}

/** The prompt row of a client pane: what is being typed, with a block cursor when focused. */
export function InputLine({ value, width, isFocused, state }: InputLineProps) {
  const theme = useTheme();
  const room = Math.max(1, width - 3);
  // Keep the end of a long line (where the cursor is) in view.
  // What was typed or pasted may hold control characters too: shown, like everything else.
  const visible = oneLine(value);
  const chars = [...visible];
  const shown = chars.length > room ? `…${chars.slice(chars.length - room + 1).join("")}` : visible;
  if (!isFocused) {
    return (
      <Text color={theme.dim} wrap="truncate">
        {truncate(`› ${value}`, width)}
      </Text>
    );
  }
  if (value === "") {
    const hint = state === "closed" ? "closed: ^D reconnects" : "type a message, /help, Enter sends";
    return (
      <Text wrap="truncate">
        <Text color={theme.accent} bold>
          ›{" "}
        </Text>
        <Text inverse> </Text>
        <Text color={theme.dim} dimColor={!theme.isColor}>
          {/* Whole phrases only: "type a message, /help" rather than "…, Enter se…". */}
          {` ${fitFields(hint.split(", "), Math.max(0, width - 4), ", ")}`}
        </Text>
      </Text>
    );
  }
  return (
    <Text wrap="truncate">
      <Text color={theme.accent} bold>
        ›{" "}
      </Text>
      {shown}
      <Text inverse> </Text>
    </Text>
  );
}
