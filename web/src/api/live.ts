// Subscriptions over graphql-ws (graphql-transport-ws) on /graphql, with the token in the
// connection_init payload. graphql-ws would re-send a dropped subscription with its first
// variables; instead every drop re-subscribes each subscription with fresh variables, so a
// price stream resumes with `after` = the last sequence it saw and misses nothing.
import { type Client, createClient } from "graphql-ws";
import { Observable } from "../observable";
import { currentToken } from "../session";
import { ApiError, type GraphQLErrorBody } from "./http";

export type ConnectionState = "idle" | "connecting" | "live" | "reconnecting";

export interface SubscriptionRequest<T> {
  query: string;
  /** Read at every (re-)subscription. */
  variables: () => Record<string, unknown>;
  next: (data: T) => void;
  error: (error: ApiError) => void;
  /** Called after a re-subscription, to fetch what a stream cannot replay. */
  resumed?: () => void;
}

// The server closes with 4403 when the token in connection_init is refused.
const TOKEN_REFUSED = 4403;
const FIRST_RETRY_MS = 250;
const LAST_RETRY_MS = 8000;

class LiveSubscription<T> {
  private cancel: (() => void) | null = null;

  constructor(readonly request: SubscriptionRequest<T>) {}

  start(client: Client): void {
    this.stop();
    let current = true;
    const { query, variables, next, error } = this.request;
    const dispose = client.subscribe<T>(
      { query, variables: variables() },
      {
        next: (result) => {
          if (!current) return;
          if (result.errors?.length) {
            error(ApiError.fromGraphQL(result.errors as GraphQLErrorBody[]));
          } else if (result.data) {
            next(result.data);
          }
        },
        error: (reason) => {
          // Socket closes reach LiveConnection's `closed` listener; only operation errors here.
          if (current && Array.isArray(reason)) error(ApiError.fromGraphQL(reason));
        },
        complete: () => undefined,
      },
    );
    this.cancel = () => {
      current = false;
      dispose();
    };
  }

  stop(): void {
    this.cancel?.();
    this.cancel = null;
  }
}

export class LiveConnection {
  readonly state = new Observable<ConnectionState>("idle");
  private client: Client;
  private readonly subscriptions = new Set<LiveSubscription<unknown>>();
  private retryDelay = FIRST_RETRY_MS;
  private retryTimer: number | undefined;
  private connectedBefore = false;

  constructor(
    private readonly url: string,
    private readonly onTokenRefused: () => void,
  ) {
    this.client = this.open();
  }

  subscribe<T>(request: SubscriptionRequest<T>): () => void {
    const subscription = new LiveSubscription(request);
    this.subscriptions.add(subscription as LiveSubscription<unknown>);
    subscription.start(this.client);
    return () => {
      subscription.stop();
      this.subscriptions.delete(subscription as LiveSubscription<unknown>);
    };
  }

  /** A new socket with the current token (after signing in or out), same subscriptions. */
  restart(): void {
    const old = this.client;
    this.client = this.open();
    this.connectedBefore = false;
    this.resubscribe(false);
    void old.dispose();
  }

  private open(): Client {
    const client: Client = createClient({
      url: this.url,
      lazy: true,
      lazyCloseTimeout: 3000,
      retryAttempts: 0,
      connectionParams: () => {
        const token = currentToken();
        return token ? { authToken: token } : {};
      },
      on: {
        connecting: () => {
          if (client !== this.client) return;
          this.state.set(this.connectedBefore ? "reconnecting" : "connecting");
        },
        connected: () => {
          if (client !== this.client) return;
          this.connectedBefore = true;
          this.retryDelay = FIRST_RETRY_MS;
          this.state.set("live");
        },
        closed: (event) => {
          if (client !== this.client) return;
          this.dropped(closeCode(event));
        },
      },
    });
    return client;
  }

  private dropped(code: number | undefined): void {
    if (this.subscriptions.size === 0) {
      this.state.set("idle");
      return;
    }
    // Released now, so graphql-ws does not re-send them with their first variables.
    for (const subscription of this.subscriptions) subscription.stop();
    this.state.set("reconnecting");
    window.clearTimeout(this.retryTimer);
    this.retryTimer = window.setTimeout(() => this.resubscribe(true), this.retryDelay);
    this.retryDelay = Math.min(this.retryDelay * 2, LAST_RETRY_MS);
    // Signing out restarts the connection without the token (and cancels the timer above).
    if (code === TOKEN_REFUSED) this.onTokenRefused();
  }

  private resubscribe(resumed: boolean): void {
    window.clearTimeout(this.retryTimer);
    for (const subscription of this.subscriptions) {
      subscription.start(this.client);
      if (resumed) subscription.request.resumed?.();
    }
  }
}

/** The close code of a socket's close event (graphql-ws passes it on untyped). */
function closeCode(event: unknown): number | undefined {
  const code = (event as { code?: unknown } | null)?.code;
  return typeof code === "number" ? code : undefined;
}
