// Sign up, sign in and sign out. The token goes to sessionStorage (session.ts); the signed-in
// user is read back with `me` so a reload keeps the session while the tab lives.
import {
  type AuthPayload,
  LOGIN,
  type LoginData,
  ME,
  type MeData,
  REGISTER,
  type RegisterData,
  type UnionFailure,
} from "../api/documents";
import { ApiError, graphql } from "../api/http";
import type { AppContext } from "../context";
import { h, replaceChildren } from "../dom";
import { describeFailure } from "../failures";
import { currentToken, setToken } from "../session";

export function mountAuth(root: HTMLElement, app: AppContext): void {
  const name = h("input", { name: "name", placeholder: "name", testid: "auth-name", autocomplete: "name" });
  const email = h("input", { name: "email", type: "email", placeholder: "email", testid: "auth-email", autocomplete: "username" });
  const password = h("input", {
    name: "password",
    type: "password",
    placeholder: "password",
    testid: "auth-password",
    autocomplete: "current-password",
  });
  const signUp = h("button", { type: "button", testid: "signup-button" }, "Sign up");
  const signIn = h("button", { type: "submit", testid: "signin-button" }, "Sign in");
  const errors = h("ul", { testid: "auth-error", class: "form-errors" });
  const form = h("form", { class: "auth-form", testid: "auth-form" }, name, email, password, signIn, signUp, errors);

  const who = h("span", { testid: "signed-in-user" });
  const signOut = h("button", { type: "button", testid: "signout-button" }, "Sign out");
  const signedIn = h("div", { class: "signed-in" }, who, signOut);

  root.append(form, signedIn);

  app.user.watch((user) => {
    form.hidden = user !== null;
    signedIn.hidden = user === null;
    who.textContent = user ? `${user.name} <${user.email}>` : "";
  });

  const finish = (result: AuthPayload | UnionFailure): void => {
    if (result.__typename !== "AuthPayload") {
      replaceChildren(errors, ...describeFailure(result).map((line) => h("li", {}, line)));
      return;
    }
    replaceChildren(errors);
    password.value = "";
    setToken(result.token);
    app.user.set(result.user);
  };

  const credentials = () => ({ email: email.value.trim(), password: password.value });

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    graphql<LoginData>(LOGIN, { input: credentials() })
      .then(({ login }) => finish(login))
      .catch(app.report);
  });
  signUp.addEventListener("click", () => {
    graphql<RegisterData>(REGISTER, { input: { name: name.value.trim(), ...credentials() } })
      .then(({ register }) => finish(register))
      .catch(app.report);
  });
  signOut.addEventListener("click", () => {
    setToken(null);
    app.user.set(null);
  });

  if (currentToken()) void restoreSession(app);
}

async function restoreSession(app: AppContext): Promise<void> {
  try {
    const { me } = await graphql<MeData>(ME);
    if (me) app.user.set(me);
    else setToken(null);
  } catch (error) {
    // A token from an earlier server run (development secrets die with the process).
    if (error instanceof ApiError && error.code === "UNAUTHENTICATED") setToken(null);
    else app.report(error);
  }
}
