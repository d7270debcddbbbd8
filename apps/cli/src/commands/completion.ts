import type { Command } from "commander";
import { action, UsageError } from "../run.js";
import { offeredWords, offerWords } from "../words.js";

const SHELLS = ["bash", "zsh", "fish"] as const;
type Shell = (typeof SHELLS)[number];

/** One command of the tree a completion script is made from: its words and its options. */
interface Node {
  /** `lab udp ping`, as typed. */
  path: string;
  description: string;
  subcommands: Node[];
  /**
   * `--port`, `-p` … each with its help line; `takesValue` when a value must follow (`--port <port>`),
   * and the words that value may be (`--mode`: chat, echo, upper), if the command named them.
   */
  options: { flags: string[]; description: string; takesValue: boolean; words: readonly string[] }[];
  /** The words its first argument may be (`lab completion`: bash, zsh, fish), if it named them. */
  argumentWords: readonly string[];
}

/**
 * `lab completion bash|zsh|fish`: prints a completion script generated from the program itself
 * (every command, subcommand and option as commander knows them), so it cannot drift from --help.
 */
export function registerCompletion(program: Command): void {
  const cmd = program
    .command("completion")
    .description("print a shell completion script (bash, zsh or fish) for lab's commands and options")
    .argument("<shell>", `one of ${SHELLS.join(", ")}`)
    .addHelpText(
      "after",
      `
Examples:
  source <(lab completion bash)                            this shell (add it to ~/.bashrc to keep it)
  lab completion zsh > "\${fpath[1]}/_lab"                  zsh, from the next shell on
  lab completion fish > ~/.config/fish/completions/lab.fish`,
    )
    .action(
      action((shell: string, _opts: unknown, cmd: Command) => {
        if (!(SHELLS as readonly string[]).includes(shell)) {
          throw new UsageError(`no completion for shell '${shell}'`, `use one of: ${SHELLS.join(", ")}`);
        }
        let root = cmd;
        while (root.parent) root = root.parent;
        process.stdout.write(completionScript(shell as Shell, tree(root, root.name())));
      }),
    );
  offerWords(cmd, "shell", SHELLS);
}

function tree(cmd: Command, path: string): Node {
  const options = cmd.options
    .filter((o) => !o.hidden)
    .map((o) => ({
      flags: [o.long, o.short].filter((f): f is string => !!f),
      description: o.description,
      takesValue: o.required,
      words: offeredWords(o),
    }));
  options.push({ flags: ["--help", "-h"], description: "show help", takesValue: false, words: [] });
  const first = cmd.registeredArguments[0];
  return {
    path,
    description: cmd.description(),
    subcommands: cmd.commands
      .filter((c) => !(c as unknown as { _hidden?: boolean })._hidden)
      .map((c) => tree(c, `${path} ${c.name()}`)),
    options,
    argumentWords: first === undefined ? [] : offeredWords(first),
  };
}

function walk(node: Node): Node[] {
  return [node, ...node.subcommands.flatMap(walk)];
}

/** The completion script for `shell`. */
export function completionScript(shell: Shell, root: Node): string {
  if (shell === "fish") return fishScript(root);
  const bash = bashScript(root);
  // zsh runs the bash function through its own compatibility layer: one script to keep right.
  // Installed in $fpath as _lab, the file runs on the first TAB, which only set things up and
  // completed nothing: as that function, it completes the TAB it was loaded for as well.
  return shell === "zsh"
    ? `#compdef lab\nautoload -U +X bashcompinit && bashcompinit\n${bash}if [[ \${funcstack[1]-} == _lab ]]; then _bash_complete -o default -F _lab_complete; fi\n`
    : bash;
}

function bashScript(root: Node): string {
  const nodes = walk(root);
  const subPaths = nodes.filter((n) => n.path !== root.path).map((n) => `"${n.path}"`);
  const cases = nodes.map((n) => {
    const subs = n.subcommands.map((s) => s.path.split(" ").at(-1));
    const opts = n.options.flatMap((o) => o.flags);
    const valued = n.options.filter((o) => o.takesValue).flatMap((o) => o.flags);
    return `    "${n.path}") subs="${subs.join(" ")}" opts="${opts.join(" ")}" valued=" ${valued.join(" ")} " ;;`;
  });
  // The words a value may be, by "PATH PREV": an option's after the option (lab server --mode), an
  // argument's after the command's own word (lab completion). Indented apart from the labels above,
  // which are the command paths (a test reads them).
  const wordCases = nodes.flatMap((n) => {
    const labels = n.options
      .filter((o) => o.takesValue && o.words.length > 0)
      .map((o) => [o.flags.map((f) => `"${n.path} ${f}"`), o.words] as const);
    if (n.argumentWords.length > 0)
      labels.push([[`"${n.path} ${n.path.split(" ").at(-1)}"`], n.argumentWords]);
    return labels.map(([label, words]) => `      ${label.join("|")}) words="${words.join(" ")}" ;;`);
  });
  // Options only for a word that starts with "-": offered for every word, TAB on an empty one typed
  // their common prefix "-" where a file or a value was wanted. An empty reply lets -o default
  // complete file names, for arguments (lab replay FILE) and option values (--pcap OUT) alike.
  return `# lab completion for bash: source <(lab completion bash)
_lab_complete() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}" path="${root.path}"
  local subs="" opts="" valued=" " words="" i
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "$path \${COMP_WORDS[i]}" in
      ${subPaths.join("|")}) path="$path \${COMP_WORDS[i]}" ;;
    esac
  done
  case "$path" in
${cases.join("\n")}
  esac
  COMPREPLY=()
  case "$path $prev" in
${wordCases.join("\n")}
  esac
  if [[ -n $words ]]; then
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
    return
  fi
  case "$valued" in *" $prev "*) return ;; esac
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
  else
    COMPREPLY=($(compgen -W "$subs" -- "$cur"))
  fi
}
complete -o default -F _lab_complete ${root.path}
`;
}

function fishScript(root: Node): string {
  const quote = (s: string) => `'${s.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
  const lines = [`# lab completion for fish: lab completion fish > ~/.config/fish/completions/lab.fish`];
  for (const node of walk(root)) {
    const words = node.path.split(" ").slice(1);
    const children = node.subcommands.map((s) => s.path.split(" ").at(-1));
    // At `lab udp`, after `udp` and before any of its own subcommands.
    const here = [
      words.length === 0
        ? "__fish_use_subcommand"
        : words.map((w) => `__fish_seen_subcommand_from ${w}`).join("; and "),
      ...(children.length > 0 && words.length > 0
        ? [`not __fish_seen_subcommand_from ${children.join(" ")}`]
        : []),
    ].join("; and ");
    for (const sub of node.subcommands) {
      const name = sub.path.split(" ").at(-1);
      lines.push(`complete -c lab -f -n ${quote(here)} -a ${name} -d ${quote(sub.description)}`);
    }
    if (node.argumentWords.length > 0) {
      lines.push(`complete -c lab -f -n ${quote(here)} -a ${quote(node.argumentWords.join(" "))}`);
    }
    for (const o of node.options) {
      const long = o.flags.find((f) => f.startsWith("--"))?.slice(2);
      const short = o.flags.find((f) => /^-[^-]$/.test(f))?.slice(1);
      const flags = [long ? `-l ${long}` : "", short ? `-s ${short}` : ""].filter(Boolean).join(" ");
      // -x: the value is one of these words, not a file name.
      const values = o.words.length > 0 ? ` -x -a ${quote(o.words.join(" "))}` : "";
      lines.push(`complete -c lab -n ${quote(here)} ${flags}${values} -d ${quote(o.description)}`);
    }
  }
  return `${lines.join("\n")}\n`;
}
