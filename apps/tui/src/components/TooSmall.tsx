import { Box, Text } from "ink";
import type { TooSmall as TooSmallLayout } from "../layout.js";
import { useTheme } from "../theme.js";

/** What the demo shows instead of a broken layout when the terminal is too small. */
export function TooSmall({ layout, clients }: { layout: TooSmallLayout; clients: number }) {
  const theme = useTheme();
  return (
    <Box flexDirection="column" paddingX={1}>
      <Text bold color={theme.warn} wrap="wrap">
        {`make the window at least ${layout.needColumns}×${layout.needRows}`}
      </Text>
      <Text wrap="wrap">{`it is ${layout.columns}×${layout.rows}, too small for ${clients} client${clients === 1 ? "" : "s"} and the server`}</Text>
      <Text color={theme.dim} wrap="wrap">
        Ctrl-C quits
      </Text>
    </Box>
  );
}
