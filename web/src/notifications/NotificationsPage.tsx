// The signed-in user's notifications, newest first, in any area (resident, merchant, console):
// mark one read, mark all read, page back; a pushed notification appears at the top at once.
import { useCallback, useEffect, useState, type ReactNode } from "react";

import { ApiError } from "../api/http";
import { common, notifications as t } from "../strings";
import { Empty, ErrorNote, Loading, Page } from "../ui/kit";
import { notificationsApi, type Notification, type NotificationPush } from "./api";
import "./notifications.css";
import { setUnread, useNotificationPushes, useUnread } from "./unread";

function When({ at }: { at: string }): ReactNode {
  const date = new Date(at);
  return <time dateTime={at}>{date.toLocaleString("zh-CN", { hour12: false })}</time>;
}

function Problem({ error }: { error: unknown }): ReactNode {
  if (error instanceof ApiError && error.code in t.errors) {
    return (
      <p className="error" role="alert">
        {t.errors[error.code]}
      </p>
    );
  }
  return <ErrorNote error={error} />;
}

export default function NotificationsPage(): ReactNode {
  const [items, setItems] = useState<Notification[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const unread = useUnread();

  const load = useCallback(async (before: string | null) => {
    setError(null);
    try {
      const page = await notificationsApi.page(before);
      setItems((prev) => (before && prev ? [...prev, ...page.items] : page.items));
      setNext(page.next_before);
    } catch (e) {
      setError(e);
    }
  }, []);

  useEffect(() => {
    void load(null);
  }, [load]);

  const pushed = useCallback((push: NotificationPush) => {
    setItems((prev) =>
      prev && !prev.some((n) => n.id === push.notification.id) ? [push.notification, ...prev] : prev,
    );
  }, []);
  useNotificationPushes(pushed);

  const act = async (work: () => Promise<void>): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      await work();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  const markRead = (id: string): Promise<void> =>
    act(async () => {
      const { unread: left } = await notificationsApi.markRead(id);
      const now = new Date().toISOString();
      setItems((prev) => prev?.map((n) => (n.id === id ? { ...n, read_at: n.read_at ?? now } : n)) ?? prev);
      setUnread(left);
    });

  const readAll = (): Promise<void> =>
    act(async () => {
      const { unread: left } = await notificationsApi.readAll();
      const now = new Date().toISOString();
      setItems((prev) => prev?.map((n) => ({ ...n, read_at: n.read_at ?? now })) ?? prev);
      setUnread(left);
    });

  return (
    <Page
      title={t.title}
      actions={
        <button type="button" onClick={() => void readAll()} disabled={busy || unread === 0}>
          {t.readAll}
        </button>
      }
    >
      <p className="muted" role="status" data-testid="unread-summary">
        {t.unreadCount(unread)}
      </p>
      <Problem error={error} />
      {items === null ? (
        error ? (
          <button type="button" onClick={() => void load(null)}>{common.retry}</button>
        ) : (
          <Loading />
        )
      ) : items.length === 0 ? (
        <Empty>{t.empty}</Empty>
      ) : (
        <ul className="notification-list" aria-label={t.title}>
          {items.map((n) => (
            <li key={n.id} className={n.read_at ? "notification" : "notification unread"} data-notification-id={n.id}>
              <div className="notification-head">
                <h2>{n.title}</h2>
                <span className="notification-kind">{t.kinds[n.kind] ?? n.kind}</span>
              </div>
              <p>{n.body}</p>
              <div className="notification-foot">
                <When at={n.created_at} />
                {n.read_at ? null : (
                  <span>
                    <span className="unread-dot">{t.unreadMark}</span>{" "}
                    <button
                      type="button"
                      className="link"
                      disabled={busy}
                      aria-label={t.markReadOf(n.title)}
                      onClick={() => void markRead(n.id)}
                    >
                      {t.markRead}
                    </button>
                  </span>
                )}
              </div>
            </li>
          ))}
        </ul>
      )}
      {next ? (
        <button type="button" onClick={() => void load(next)}>
          {t.more}
        </button>
      ) : null}
    </Page>
  );
}
