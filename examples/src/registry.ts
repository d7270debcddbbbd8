/** One runnable example: `node examples/dist/<name>.js`, or `lab examples run <name>`. */
export interface ExampleInfo {
  /** File name without extension, kebab-case: `examples/src/<name>.ts`. */
  name: string;
  /** One line: what it shows. */
  summary: string;
  /** The idea it teaches, used to group the list (e.g. "sockets", "socketserver", "concurrency", "generics"). */
  topic: string;
}

/** Every example, in the order `lab examples` lists them. */
export const examples: ExampleInfo[] = [];
