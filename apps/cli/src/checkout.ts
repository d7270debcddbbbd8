/**
 * Imports a workspace package that the packed `lab` leaves out (bench and examples run files from a
 * netlab checkout), turning "cannot find package" into a `lab:` line that says where it works.
 */
export async function importFromCheckout<T>(name: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (err) {
    if ((err as { code?: string }).code !== "ERR_MODULE_NOT_FOUND") throw err;
    throw Object.assign(
      new Error(`${name} is not part of this installed lab (it runs from a netlab checkout)`),
      {
        code: "NOT_INSTALLED",
        hint: "clone netlab and run it there: pnpm install && lab ...",
      },
    );
  }
}
