// The shapes of /api/v1 events endpoints (lago_rest/routes/events.py).
export type EventStatus = "draft" | "published" | "cancelled" | "finished";
export type RegistrationStatus = "confirmed" | "waitlisted" | "cancelled";

export interface CommunityEvent {
  id: string;
  community_id: string;
  title: string;
  place: string;
  programme: string;
  starts_at: string;
  ends_at: string;
  signup_opens_at: string;
  signup_closes_at: string;
  capacity: number;
  confirmed_count: number;
  seats_left: number;
  waitlist_count: number;
  checked_in_count: number;
  status: EventStatus;
  cancel_reason: string | null;
  updated_at: string;
  my_status?: RegistrationStatus | null;
}

export interface Registration {
  id: string;
  event_id: string;
  user_id: string;
  display_name: string;
  status: RegistrationStatus;
  priority: boolean;
  waitlist_position: number | null;
  created_at: string;
  confirmed_at: string | null;
  cancelled_at: string | null;
  checked_in_at: string | null;
  checked_in_by: string | null;
  ticket?: string | null;
}

export interface EventLink {
  kind: "live" | "draw" | "group_buy";
  target_id: string;
  title: string | null;
  at: string | null;
  status: string | null;
}

export interface EventDetail {
  event: CommunityEvent;
  may_organise: boolean;
  my_registration: Registration | null;
  privileges: number;
  links: EventLink[];
}

/** Where a linked item opens in the resident app. */
export function linkHref(link: EventLink, communityId: string): string {
  if (link.kind === "draw") return `/lottery/${link.target_id}`;
  if (link.kind === "live") return `/live/${communityId}`;
  return `/channel/${communityId}`;
}
