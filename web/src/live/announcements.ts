// Stream announcements (活动预告) as the API returns them, and how the live pages write times.
export interface Announcement {
  id: string;
  community_id: string;
  host_id: string;
  title: string;
  description: string;
  starts_at: string;
  cancelled_at: string | null;
}

/** A time in the viewer's locale and zone, e.g. "2026年12月8日 10:00". */
export const when = (iso: string): string => new Date(iso).toLocaleString("zh-CN", { dateStyle: "medium", timeStyle: "short" });
