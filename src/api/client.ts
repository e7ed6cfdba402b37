/** A request to a node's API failed: unreachable, refused, or answered with an error. */
export class ApiRequestError extends Error {
  /** The HTTP status, when the node answered. */
  readonly status: number | undefined;
  /**
   * @param message What failed, naming the URL.
   * @param status The HTTP status, when there was an answer.
   * @param options The underlying error.
   */
  constructor(message: string, status?: number, options?: ErrorOptions) {
    super(message, options);
    this.name = "ApiRequestError";
    this.status = status;
  }
}

/** Options of {@linkcode apiRequest}. */
export interface ApiRequestOptions {
  method?: string;
  body?: unknown;
  apiToken?: string | undefined;
  timeoutMs?: number;
}

/**
 * Calls a node's API and returns the decoded JSON answer.
 *
 * @throws {ApiRequestError} The node is unreachable or answered with an error status.
 */
export async function apiRequest(
  base: string,
  path: string,
  options: ApiRequestOptions = {},
): Promise<unknown> {
  let url: URL;
  try {
    url = new URL(path, base.endsWith("/") ? base : `${base}/`);
  } catch {
    throw new ApiRequestError(`Cannot use API URL "${base}": not a URL`);
  }
  const headers: Record<string, string> = {};
  if (options.body !== undefined) headers["content-type"] = "application/json";
  if (options.apiToken) headers.authorization = `Bearer ${options.apiToken}`;
  let response: Response;
  try {
    response = await fetch(url, {
      method: options.method ?? "GET",
      headers,
      ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
      signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
    });
  } catch (err) {
    throw new ApiRequestError(
      `Cannot reach the API at "${url.origin}": ${describe(err)}`,
      undefined,
      {
        cause: err,
      },
    );
  }
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text for the error message
  }
  if (!response.ok) {
    const detail = typeof body === "object" && body !== null && "error" in body
      ? String((body as { error: unknown }).error)
      : text.trim();
    throw new ApiRequestError(`${url.pathname}: ${response.status} ${detail}`, response.status);
  }
  return body;
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
