// Expected failures of mutations (members of their result unions) as lines a person reads.
import type { UnionFailure } from "./api/documents";

export function describeFailure(failure: UnionFailure): string[] {
  switch (failure.__typename) {
    case "ValidationError":
      return failure.fields.length
        ? failure.fields.map((field) => `${field.field}: ${field.message}`)
        : [failure.message];
    case "RateLimitedError":
      return [`${failure.message} (try again in ${failure.retryAfterSeconds} s)`];
    default:
      return [failure.message];
  }
}

export function isFailure<T extends { __typename: string }>(
  result: T | UnionFailure,
  success: T["__typename"],
): result is UnionFailure {
  return result.__typename !== success;
}
