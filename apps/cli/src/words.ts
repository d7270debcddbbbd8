import type { Command } from "commander";

// No imports beyond commander's types: every command module loads this at start.

const WORDS = new WeakMap<object, readonly string[]>();

/**
 * Names the words an option's value (`--mode <mode>`) or an argument (`<shell>`) may be, so that
 * `lab completion` offers them on TAB. Checking a value stays the action's, with its own message
 * (commander's `.choices()` would check first, in its words, and list them again in --help).
 * @example offerWords(cmd, "--mode", ["chat", "echo", "upper"])
 */
export function offerWords(cmd: Command, name: string, words: readonly string[]): Command {
  const item = name.startsWith("-")
    ? cmd.options.find((o) => o.long === name || o.short === name)
    : cmd.registeredArguments.find((a) => a.name() === name);
  if (item === undefined) throw new Error(`offerWords: ${cmd.name()} declares no ${name}`);
  WORDS.set(item, words);
  return cmd;
}

/** The words {@link offerWords} named for an option or argument; none for any other. */
export function offeredWords(item: object): readonly string[] {
  return WORDS.get(item) ?? [];
}
