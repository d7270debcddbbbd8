/**
 * Generic functions and classes: one piece of code, many element types, all checked.
 * Run: lab examples run generics
 */

/** Reverses any array without changing it: `T` is whatever the caller's elements are. */
export function reverse<T>(items: readonly T[]): T[] {
  const out: T[] = [];
  for (let i = items.length - 1; i >= 0; i--) out.push(items[i]!);
  return out;
}

/** A box holding one value of type `T`; `map` makes a box of another type. */
export class Box<T> {
  constructor(readonly value: T) {}

  /** The value transformed by `fn`, in a new box: `Box<T>` → `Box<U>`. */
  map<U>(fn: (value: T) => U): Box<U> {
    return new Box(fn(this.value));
  }

  toString(): string {
    return `Box(${JSON.stringify(this.value)})`;
  }
}

/** A constraint: `T` must have a length, so strings and arrays fit but numbers do not. */
function longest<T extends { length: number }>(a: T, b: T): T {
  return a.length >= b.length ? a : b;
}

// `reverse` infers T = number here and T = string below; the result types follow.
const numbers: number[] = reverse([1, 2, 3]);
const words: string[] = reverse(["tcp", "udp", "unix"]);
console.log("reverse([1, 2, 3])            =", numbers);
console.log('reverse(["tcp", "udp", "unix"]) =', words);

const port = new Box(5001);
const toAddress = (p: number): string => `127.0.0.1:${p}`;
const label: Box<string> = port.map(toAddress);
console.log("new Box(5001)                 =", String(port));
console.log("  .map(toAddress)             =", String(label), "(a Box<string> now)");

console.log('longest("chat", "files")      =', longest("chat", "files"));
console.log("longest([1, 2], [3])          =", longest([1, 2], [3]));
// longest(1, 2) would not compile: number has no `length`.
