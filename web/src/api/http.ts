// Queries and mutations over HTTP POST /graphql. Top-level GraphQL errors become one thrown
// ApiError carrying the server's extensions.code (UNAUTHENTICATED, BAD_USER_INPUT, ...), so
// every panel can show them the same way. Expected failures of mutations are not errors
// here: they arrive as members of the result union and the panels read their __typename.
import { currentToken } from "../session";

export interface GraphQLErrorBody {
  message: string;
  extensions?: { code?: string; field?: string };
}

export class ApiError extends Error {
  readonly code: string;
  readonly field: string | undefined;

  constructor(message: string, code: string, field?: string) {
    super(message);
    this.name = "ApiError";
    this.code = code;
    this.field = field;
  }

  static fromGraphQL(errors: readonly GraphQLErrorBody[]): ApiError {
    const first = errors[0];
    return new ApiError(
      first?.message ?? "Unknown error",
      first?.extensions?.code ?? "INTERNAL_SERVER_ERROR",
      first?.extensions?.field,
    );
  }
}

const ENDPOINT = "/graphql";

export async function graphql<T>(
  query: string,
  variables: Record<string, unknown> = {},
): Promise<T> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  const token = currentToken();
  if (token) headers.authorization = `Bearer ${token}`;
  let response: Response;
  try {
    response = await fetch(ENDPOINT, {
      method: "POST",
      headers,
      body: JSON.stringify({ query, variables }),
    });
  } catch {
    throw new ApiError("The server cannot be reached", "NETWORK_ERROR");
  }
  const body = (await response.json().catch(() => null)) as {
    data?: T | null;
    errors?: GraphQLErrorBody[];
  } | null;
  if (body?.errors?.length) throw ApiError.fromGraphQL(body.errors);
  if (!response.ok || body?.data == null) {
    throw new ApiError(`The server answered HTTP ${response.status}`, "HTTP_ERROR");
  }
  return body.data;
}
