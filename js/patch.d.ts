/** One JSON Patch (RFC 6902) operation, as `diff` writes them. */
export type PatchOperation =
  | { op: 'add'; path: string; value: unknown }
  | { op: 'remove'; path: string }
  | { op: 'replace'; path: string; value: unknown };

/** The operations that turn `left` into `right`, in the order the Rust hosts write them. */
export function diff(left: unknown, right: unknown): PatchOperation[];

/** The patch of a `validate` response against the request's object (`[]` when nothing is mutated). */
export function responsePatch(
  object: unknown,
  response: { mutated_object: Record<string, unknown> | null },
): PatchOperation[];
