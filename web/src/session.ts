// The signed-in user's token lives in sessionStorage only: never in a cookie, so other origins
// cannot send it, and it is gone when the tab closes.
const KEY = "stockql.token";

type Listener = (token: string | null) => void;
const listeners = new Set<Listener>();

export function currentToken(): string | null {
  return sessionStorage.getItem(KEY);
}

export function setToken(token: string | null): void {
  if (token) sessionStorage.setItem(KEY, token);
  else sessionStorage.removeItem(KEY);
  for (const listener of listeners) listener(token);
}

export function onTokenChange(listener: Listener): void {
  listeners.add(listener);
}
