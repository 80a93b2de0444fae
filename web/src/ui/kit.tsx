// The few building blocks every screen shares. Plain elements with classes from styles.css: the
// resident screens run in a WeChat web-view on small phones, so no component library's weight.
import { useEffect, useState, type ReactNode } from "react";

import { ApiError } from "../api/http";
import { common, errorText } from "../strings";

export function Page({ title, actions, children }: { title: string; actions?: ReactNode; children: ReactNode }): ReactNode {
  return (
    <section className="page">
      <header className="page-head">
        <h1>{title}</h1>
        {actions ? <div className="page-actions">{actions}</div> : null}
      </header>
      {children}
    </section>
  );
}

export function ErrorNote({ error }: { error: unknown }): ReactNode {
  if (!error) return null;
  const text =
    error instanceof ApiError ? (error.code === "network" ? common.errors.network : errorText(error.code, error.message)) : common.errors.unknown;
  return (
    <p className="error" role="alert">
      {text}
    </p>
  );
}

export function Loading(): ReactNode {
  return <p className="muted" aria-busy="true">{common.loading}</p>;
}

export function Empty({ children }: { children?: ReactNode }): ReactNode {
  return <p className="muted empty">{children ?? common.empty}</p>;
}

export function Money({ fen }: { fen: number | null | undefined }): ReactNode {
  return fen === null || fen === undefined ? null : <span className="money">{common.yuan(fen)}</span>;
}

/** Load something on mount (and when `deps` change): [value, error, reload]. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): [T | undefined, unknown, () => void] {
  const [value, setValue] = useState<T>();
  const [error, setError] = useState<unknown>(null);
  const [round, setRound] = useState(0);
  useEffect(() => {
    let live = true;
    setError(null);
    load().then(
      (v) => live && setValue(v),
      (e: unknown) => live && setError(e),
    );
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, round]);
  return [value, error, () => setRound((r) => r + 1)];
}

/** Run an action from a button: [run, busy, error]. */
export function useAction<A extends unknown[]>(
  action: (...args: A) => Promise<unknown>,
): [(...args: A) => Promise<void>, boolean, unknown] {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const run = async (...args: A): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      await action(...args);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return [run, busy, error];
}
