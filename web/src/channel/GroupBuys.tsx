// Group buys in the channel (docs/groupbuys.md): the community's campaigns to start a group from,
// the live groups filling seat by seat from channel events, joining, leaving and paying a seat.
import { useCallback, useEffect, useRef, useState, type ReactNode } from "react";

import { type ChannelEvent, type ChannelFeed, type ChannelState } from "../api/channel";
import { http } from "../api/http";
import { channel, common } from "../strings";
import { Empty, ErrorNote, Loading, Money } from "../ui/kit";
import { Cashier } from "./Cashier";
import { channelError, FeatureStore, storeOf, useChannelEvents, useStore, when } from "./feed";

interface SeatView {
  user_id: string;
  name: string;
  seat_no: number;
  status: "reserved" | "paid" | "released" | "refunded";
  reserved_until: string | null;
}

interface GroupView {
  group_id: string;
  campaign_id: string;
  title: string;
  group_price_fen: number;
  original_price_fen: number;
  min_members: number;
  max_members: number;
  members: number;
  paid: number;
  status: string;
  leader_id: string | null;
  expires_at: string;
  created_at: string;
  /** Ours, null when we have none; undefined when not known from this object. */
  my_seat?: SeatView | null;
  seats?: SeatView[];
}

interface Campaign {
  id: string;
  title: string;
  description: string;
  group_price_fen: number;
  original_price_fen: number;
  min_members: number;
  max_members: number;
  status: string;
}

type Groups = Map<string, GroupView>;

/** The group with our seat: as given, or found in its seat list (events and pages carry one). */
function withSeats(group: GroupView, me: string): GroupView {
  if (group.my_seat !== undefined || !group.seats) return group;
  const mine = group.seats.find((s) => s.user_id === me && (s.status === "reserved" || s.status === "paid")) ?? null;
  return { ...group, my_seat: mine };
}

interface GroupsState {
  groups: Groups;
  /** How many live groups the channel has (the snapshot names at most 50). */
  total: number;
}

/** A group merged into the known ones, keeping our seat unless the new data says otherwise. */
function merged(state: GroupsState, group: GroupView, me: string): GroupsState {
  const known = state.groups.get(group.group_id);
  const next = withSeats(group, me);
  const my_seat = next.my_seat !== undefined ? next.my_seat : (known?.my_seat ?? null);
  return { ...state, groups: new Map(state.groups).set(group.group_id, { ...known, ...next, my_seat }) };
}

type Change = Partial<GroupView> & { group_id: string; joined?: unknown; left?: string[]; released?: string[] };

function reduce(state: GroupsState, event: ChannelEvent, me: string): GroupsState {
  const data = event.data;
  switch (event.type) {
    case "groupbuy.started":
      return { ...merged(state, data as unknown as GroupView, me), total: state.total + 1 };
    case "groupbuy.succeeded":
      return merged(state, data as unknown as GroupView, me);
    case "groupbuy.updated": {
      const groups = new Map(state.groups);
      for (const change of data.groups as Change[]) {
        const group = groups.get(change.group_id);
        if (!group) continue;
        const { joined, left, released, ...counts } = change;
        void joined;
        const gone = [...(left ?? []), ...(released ?? [])].includes(me);
        groups.set(change.group_id, { ...group, ...counts, my_seat: gone ? null : group.my_seat });
      }
      return { ...state, groups };
    }
    case "groupbuy.ended": {
      const id = data.group_id as string;
      const group = state.groups.get(id);
      if (!group) return state;
      return { ...state, groups: new Map(state.groups).set(id, { ...group, status: data.status as string, paid: data.paid as number }) };
    }
    default:
      return state;
  }
}

/** The channel's live groups: the join snapshot, then every groupbuy.* event in order. */
export function groupBuysOf(feed: ChannelFeed): FeatureStore<GroupsState> {
  return storeOf(
    feed,
    "group_buys",
    () =>
      new FeatureStore<GroupsState>(
        feed,
        { groups: new Map(), total: 0 },
        (snapshot) => {
          const found = snapshot.group_buys as { groups: GroupView[]; total: number } | undefined;
          return { groups: new Map((found?.groups ?? []).map((g) => [g.group_id, g])), total: found?.total ?? 0 };
        },
        (state, event) => reduce(state, event, feed.me),
      ),
  );
}

function useGroups(feed: ChannelFeed): [Groups, number, (g: GroupView) => void, (id: string) => void] {
  const store = groupBuysOf(feed);
  const { groups, total } = useStore(store);
  const put = useCallback((group: GroupView) => store.update((state) => merged(state, group, feed.me)), [store, feed.me]);

  // Seat changes of a group we sit in come as counts; the seat list says what became of ours.
  const refresh = useCallback(
    (groupId: string) => {
      void http.get<{ seats: SeatView[] }>(`/group-buys/${groupId}`).then((detail) => {
        const mine = detail.seats.find((s) => s.user_id === feed.me && (s.status === "reserved" || s.status === "paid")) ?? null;
        store.update((state) => {
          const group = state.groups.get(groupId);
          return group ? { ...state, groups: new Map(state.groups).set(groupId, { ...group, my_seat: mine }) } : state;
        });
      }, () => undefined);
    },
    [store, feed.me],
  );

  // A payment (ours or a neighbour's) changes only the count: ask what became of our seat.
  const latest = useRef(groups);
  latest.current = groups;
  useChannelEvents(
    feed,
    (event: ChannelEvent) => {
      if (event.type !== "groupbuy.updated") return;
      for (const change of event.data.groups as Change[]) {
        const group = latest.current.get(change.group_id);
        if (group?.my_seat && change.paid !== undefined && change.paid !== group.paid) refresh(change.group_id);
      }
    },
    [refresh],
  );

  return [groups, total, put, refresh];
}

export function GroupBuys({ feed, state, communityId }: { feed: ChannelFeed; state: ChannelState; communityId: string }): ReactNode {
  const [groups, total, put, refresh] = useGroups(feed);
  const [campaigns, setCampaigns] = useState<Campaign[] | null>(null);
  const [campaignError, setCampaignError] = useState<unknown>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [paying, setPaying] = useState<GroupView | null>(null);
  const [cursor, setCursor] = useState<string | null | undefined>(undefined);

  useEffect(() => {
    http.get<{ items: Campaign[] }>(`/communities/${communityId}/group-buy-campaigns?limit=20`).then(
      (page) => setCampaigns(page.items),
      (e: unknown) => setCampaignError(e),
    );
  }, [communityId]);

  const act = async (key: string, action: () => Promise<void>): Promise<void> => {
    setBusy(key);
    setError(null);
    try {
      await action();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(null);
    }
  };

  const start = (campaign: Campaign): Promise<void> =>
    act(`start:${campaign.id}`, async () => {
      // One id per start: a retry after a lost answer gets the group it started, not a second one.
      const requestId = crypto.randomUUID();
      const ack = await feed.request<{ group: GroupView; seat: SeatView }>("groupbuy:start", { campaign_id: campaign.id, request_id: requestId });
      put({ ...ack.group, seats: undefined, my_seat: ack.seat });
    });

  const join = (group: GroupView): Promise<void> =>
    act(`join:${group.group_id}`, async () => {
      const ack = await feed.request<{ group: Partial<GroupView>; seat: SeatView }>("groupbuy:join", { group_id: group.group_id });
      put({ ...group, ...ack.group, seats: undefined, my_seat: ack.seat });
    });

  const leave = (group: GroupView): Promise<void> => {
    if (!window.confirm(channel.groupbuys.leaveConfirm)) return Promise.resolve();
    return act(`leave:${group.group_id}`, async () => {
      const ack = await feed.request<{ group: Partial<GroupView> }>("groupbuy:leave", { group_id: group.group_id });
      put({ ...group, ...ack.group, my_seat: null, seats: undefined });
    });
  };

  const more = (): Promise<void> =>
    act("more", async () => {
      const page = await feed.request<{ groups: GroupView[]; next_cursor: string | null }>("groupbuy:list", {
        ...(cursor ? { cursor } : {}),
        limit: 50,
      });
      for (const group of page.groups) put(group);
      setCursor(page.next_cursor);
    });

  const live = [...groups.values()].sort((a, b) => b.created_at.localeCompare(a.created_at));
  return (
    <div className="groupbuys">
      <ErrorNoteChannel error={error} />
      <h2>{channel.groupbuys.groups}</h2>
      {!state.joined ? <Loading /> : live.length === 0 ? <Empty>{channel.groupbuys.none}</Empty> : null}
      <ul className="list">
        {live.map((group) => (
          <GroupCard
            key={group.group_id}
            group={group}
            busy={busy}
            resident={state.role === "member"}
            onJoin={() => void join(group)}
            onLeave={() => void leave(group)}
            onPay={() => setPaying(group)}
          />
        ))}
      </ul>
      {total > groups.size && cursor !== null ? (
        <>
          <p className="muted">{channel.groupbuys.more(groups.size, total)}</p>
          <button type="button" onClick={() => void more()} disabled={busy === "more"}>
            {channel.groupbuys.loadMore}
          </button>
        </>
      ) : null}

      <h2>{channel.groupbuys.campaigns}</h2>
      <ErrorNote error={campaignError} />
      {campaigns === null && !campaignError ? <Loading /> : null}
      {campaigns?.length === 0 ? <Empty>{channel.groupbuys.noCampaigns}</Empty> : null}
      <ul className="list">
        {campaigns?.map((c) => (
          <li key={c.id} className="card campaign">
            <div className="grow">
              <strong>{c.title}</strong>
              <div>
                <Money fen={c.group_price_fen} />{" "}
                <s className="muted" aria-label={`${channel.groupbuys.original} ${common.yuan(c.original_price_fen)}`}>
                  {common.yuan(c.original_price_fen)}
                </s>{" "}
                <span className="muted">{channel.groupbuys.needs(c.min_members)}</span>
              </div>
            </div>
            <button type="button" className="primary" disabled={busy !== null || state.role !== "member"} onClick={() => void start(c)} aria-label={`${channel.groupbuys.start}：${c.title}`}>
              {channel.groupbuys.start}
            </button>
          </li>
        ))}
      </ul>
      {paying ? (
        <Cashier
          groupId={paying.group_id}
          title={paying.title}
          onClose={() => setPaying(null)}
          onPaid={() => refresh(paying.group_id)}
        />
      ) : null}
    </div>
  );
}

function ErrorNoteChannel({ error }: { error: unknown }): ReactNode {
  return error ? (
    <p className="error" role="alert">
      {channelError(error)}
    </p>
  ) : null;
}

function GroupCard({
  group,
  busy,
  resident,
  onJoin,
  onLeave,
  onPay,
}: {
  group: GroupView;
  busy: string | null;
  /** Only verified residents take seats (the channel actor checks it too). */
  resident: boolean;
  onJoin: () => void;
  onLeave: () => void;
  onPay: () => void;
}): ReactNode {
  const open = group.status === "open";
  const full = group.members >= group.max_members;
  const seat = group.my_seat;
  const titleId = `group-${group.group_id}`;
  return (
    <li className={`card group ${group.status}`} aria-labelledby={titleId}>
      <div className="grow">
        <strong id={titleId}>{group.title}</strong>{" "}
        <span className={`badge ${group.status === "succeeded" ? "verified" : open ? "pending" : "rejected"}`}>{channel.groupbuys.status[group.status] ?? group.status}</span>
        <div>
          <Money fen={group.group_price_fen} /> <s className="muted">{common.yuan(group.original_price_fen)}</s>
        </div>
        <progress max={group.max_members} value={group.members} aria-label={`${group.title} ${channel.groupbuys.seats(group.members, group.max_members)}`} />
        <div className="muted seats">
          <span data-testid="seats">{channel.groupbuys.seats(group.members, group.max_members)}</span> · {channel.groupbuys.needs(group.min_members)} ·{" "}
          {channel.groupbuys.paid(group.paid)}
          {open ? <> · {channel.groupbuys.expires(when(group.expires_at))}</> : null}
        </div>
        {seat ? (
          <div className="my-seat">
            {channel.groupbuys.mine} #{seat.seat_no}：{channel.groupbuys.myStatus[seat.status] ?? seat.status}
            {seat.status === "reserved" && seat.reserved_until ? <span className="muted"> · {channel.groupbuys.payBefore(when(seat.reserved_until))}</span> : null}
          </div>
        ) : null}
        {group.status === "succeeded" && seat ? <p className="notice">{channel.groupbuys.succeeded}</p> : null}
        {group.status === "failed" && seat ? <p className="error">{channel.groupbuys.failed}</p> : null}
      </div>
      <div className="actions">
        {open && !seat ? (
          <button type="button" className="primary" disabled={full || !resident || busy !== null} onClick={onJoin} aria-label={`${channel.groupbuys.join}：${group.title}`}>
            {channel.groupbuys.join}
          </button>
        ) : null}
        {seat?.status === "reserved" && (open || group.status === "succeeded") ? (
          <button type="button" className="primary" disabled={busy !== null} onClick={onPay}>
            {channel.groupbuys.pay}
          </button>
        ) : null}
        {seat && open ? (
          <button type="button" className="danger" disabled={busy !== null} onClick={onLeave}>
            {channel.groupbuys.leave}
          </button>
        ) : null}
      </div>
    </li>
  );
}
