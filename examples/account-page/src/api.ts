// Talking to Sessionhub: queries and mutations over HTTP, subscriptions over graphql-ws,
// both with the session token as a bearer token.
import { type Client, createClient } from "graphql-ws";

import type { TypedDocumentString } from "./generated/graphql";

/** An error the API answered with, and its machine-readable code. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

/** The codes that mean this session is over: sign in again. */
export const SIGNED_OUT_CODES = ["SESSION_ENDED", "UNAUTHENTICATED"];

export async function request<Result, Variables>(
  document: TypedDocumentString<Result, Variables>,
  variables: Variables,
  token: string,
): Promise<Result> {
  const response = await fetch("/graphql", {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      Accept: "application/graphql-response+json, application/json",
      Authorization: `Bearer ${token}`,
    },
    body: JSON.stringify({ query: document.toString(), variables }),
  });
  const body = await response.json();
  const error = body.errors?.[0];
  if (error) throw new ApiError(error.message, error.extensions?.code ?? "UNKNOWN");
  return body.data as Result;
}

/** One websocket for the page's subscriptions, authorised by the session token. */
export function liveClient(token: string, onClosed: (code: number) => void): Client {
  const url = new URL("/graphql/ws", window.location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return createClient({
    url: url.href,
    connectionParams: { Authorization: `Bearer ${token}` },
    // 4403: the server closed it because this session ended. Do not come back.
    shouldRetry: (event) => !(event instanceof CloseEvent && event.code === 4403),
    on: { closed: (event) => onClosed((event as CloseEvent)?.code ?? 0) },
  });
}

export function subscribe<Result>(
  client: Client,
  document: TypedDocumentString<Result, Record<string, never>>,
  onResult: (result: Result) => void,
): () => void {
  return client.subscribe<Result>(
    { query: document.toString() },
    {
      next: (message) => message.data && onResult(message.data as Result),
      error: () => {},
      complete: () => {},
    },
  );
}
