// A paged back-office list (status filter, "load more" cursor) kept live by pushes over the
// /merchant socket. The orders and group-buy orders pages share it.
import { useCallback, useEffect, useRef, useState } from "react";

import { http, query } from "../api/http";
import type { Page as ApiPage } from "./api";
import { useMerchant } from "./context";

/** What a live list needs of its rows. */
export interface LiveItem {
  id: string;
  status: string;
}

/** Handed to the page's subscription: how a push (or a fresher copy of a row) enters the list. */
export interface LiveFeed<T> {
  /** A pushed row, built from the row already known (if any); survives an in-flight list request. */
  push: (id: string, make: (existing: T | undefined) => T) => void;
  upsert: (item: T) => void;
}

export interface LiveListOptions<T extends LiveItem> {
  /** The list endpoint, without query (status, limit and cursor are added). */
  path: string;
  filter: T["status"] | "";
  /** Listens for pushes and feeds them in; returns the unsubscribe. Keep it stable (useCallback). */
  subscribe: (feed: LiveFeed<T>) => () => void;
  /** How a fresher copy of a row combines with the one shown; default: it replaces it. */
  merge?: (existing: T, next: T) => T;
}

export interface LiveList<T> {
  items: T[] | null;
  cursor: string | null;
  error: unknown;
  loadingMore: boolean;
  load: () => Promise<void>;
  more: () => Promise<void>;
  upsert: (item: T) => void;
}

const PAGE_SIZE = 20;

function replace<T>(_existing: T, next: T): T {
  return next;
}

export function useLiveList<T extends LiveItem>({ path, filter, subscribe, merge = replace }: LiveListOptions<T>): LiveList<T> {
  const { onReconnect } = useMerchant();
  const [items, setItems] = useState<T[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [loadingMore, setLoadingMore] = useState(false);
  const filterRef = useRef(filter);
  filterRef.current = filter;
  const mergeRef = useRef(merge);
  mergeRef.current = merge;
  // Rows pushed while a list request is in flight: its answer may predate them, so they are laid
  // over it rather than lost (a reload on reconnect races the pushes that follow it).
  const pushed = useRef(new Map<string, { at: number; item: T }>());

  const load = useCallback(async () => {
    setError(null);
    const started = performance.now();
    try {
      const page = await http.get<ApiPage<T>>(`${path}${query({ status: filter, limit: PAGE_SIZE })}`);
      const next = [...page.items];
      for (const { at, item } of pushed.current.values()) {
        if (at < started) continue;
        const i = next.findIndex((x) => x.id === item.id);
        if (filter !== "" && item.status !== filter) {
          if (i >= 0) next.splice(i, 1);
        } else if (i >= 0) next[i] = item;
        else next.unshift(item);
      }
      setItems(next);
      setCursor(page.next_cursor);
    } catch (e) {
      setError(e);
    }
  }, [path, filter]);

  useEffect(() => {
    setItems(null);
    void load();
  }, [load]);

  // REST is the truth after a reconnect: pushes sent while offline are gone.
  useEffect(() => onReconnect(() => void load()), [onReconnect, load]);

  /** Puts the row `make` builds from the one shown, where the filter wants it. */
  const put = useCallback((id: string, make: (existing: T | undefined) => T) => {
    setItems((prev) => {
      if (!prev) return prev;
      const existing = prev.find((x) => x.id === id);
      const item = make(existing);
      const wanted = filterRef.current === "" || filterRef.current === item.status;
      const rest = prev.filter((x) => x.id !== id);
      if (!wanted) return rest;
      return existing ? prev.map((x) => (x.id === id ? item : x)) : [item, ...rest];
    });
  }, []);

  const upsert = useCallback(
    (item: T) => {
      const seen = pushed.current.get(item.id);
      if (seen) seen.item = mergeRef.current(seen.item, item);
      put(item.id, (existing) => (existing ? mergeRef.current(existing, item) : item));
    },
    [put],
  );

  const push = useCallback(
    (id: string, make: (existing: T | undefined) => T) => {
      pushed.current.set(id, { at: performance.now(), item: make(pushed.current.get(id)?.item) });
      put(id, make);
    },
    [put],
  );

  useEffect(() => subscribe({ push, upsert }), [subscribe, push, upsert]);

  const more = useCallback(async (): Promise<void> => {
    if (!cursor) return;
    setLoadingMore(true);
    try {
      const page = await http.get<ApiPage<T>>(`${path}${query({ status: filter, limit: PAGE_SIZE, cursor })}`);
      setItems((prev) => [...(prev ?? []), ...page.items.filter((x) => !prev?.some((p) => p.id === x.id))]);
      setCursor(page.next_cursor);
    } catch (e) {
      setError(e);
    } finally {
      setLoadingMore(false);
    }
  }, [path, filter, cursor]);

  return { items, cursor, error, loadingMore, load, more, upsert };
}
