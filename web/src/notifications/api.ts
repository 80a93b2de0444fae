// The notification centre over REST and the socket (docs/notifications.md, docs/protocol.md).
import { http, query } from "../api/http";

export interface Notification {
  id: string;
  kind: string;
  title: string;
  body: string;
  data: Record<string, unknown>;
  created_at: string;
  read_at: string | null;
}

export interface NotificationPage {
  items: Notification[];
  next_before: string | null;
}

/** `notification:new`, pushed to every socket of the user on `/`. */
export interface NotificationPush {
  notification: Notification;
  unread: number;
}

export const NOTIFICATION_NEW = "notification:new";

export const notificationsApi = {
  page: (before?: string | null): Promise<NotificationPage> =>
    http.get<NotificationPage>(`/me/notifications${query({ before, limit: 20 })}`),
  unread: (): Promise<{ unread: number }> => http.get<{ unread: number }>("/me/notifications/unread-count"),
  markRead: (id: string): Promise<{ unread: number }> => http.post<{ unread: number }>(`/me/notifications/${id}/read`),
  readAll: (): Promise<{ marked: number; unread: number }> =>
    http.post<{ marked: number; unread: number }>("/me/notifications/read-all"),
};
