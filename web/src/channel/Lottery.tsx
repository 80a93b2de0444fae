// Lottery draws in the channel (docs/lottery.md): open draws with how to enter, the result as it
// is drawn live, and the link to the page that verifies it.
import { useMemo, type ReactNode } from "react";
import { Link } from "react-router";

import { type ChannelFeed, type ChannelState } from "../api/channel";
import { channel } from "../strings";
import { Empty, Loading } from "../ui/kit";
import { FeatureStore, storeOf, useStore, when } from "./feed";

export interface DrawView {
  id: string;
  prize: string;
  winner_count: number;
  eligibility: "viewers" | "keyword" | "members" | string;
  keyword: string | null;
  commitment: string;
  opened_at: string;
  draw_at: string;
  organiser_id: string;
  status: "open" | "drawn" | "revealed" | string;
  entries_hash?: string;
  entry_count?: number;
  winners?: string[];
  drawn_at?: string;
  seed?: string;
}

type Draws = Map<string, DrawView>;

const STATUS_OF: Record<string, string> = { "lottery.opened": "open", "lottery.drawn": "drawn", "lottery.revealed": "revealed" };

/** The channel's draws: the join snapshot's open and recent ones, then lottery.* events. */
export function drawsOf(feed: ChannelFeed): FeatureStore<Draws> {
  return storeOf(
    feed,
    "lottery",
    () =>
      new FeatureStore<Draws>(
        feed,
        new Map(),
        (snapshot) => new Map(((snapshot.lottery as { draws: DrawView[] } | undefined)?.draws ?? []).map((d) => [d.id, d])),
        (draws, event) => {
          const status = STATUS_OF[event.type];
          if (!status) return draws;
          const data = event.data as unknown as DrawView;
          return new Map(draws).set(data.id, { ...draws.get(data.id), ...data, status } as DrawView);
        },
      ),
  );
}

function useDraws(feed: ChannelFeed): DrawView[] {
  const draws = useStore(drawsOf(feed));
  return useMemo(() => [...draws.values()].sort((a, b) => b.opened_at.localeCompare(a.opened_at)), [draws]);
}

export function LotteryView({ feed, state }: { feed: ChannelFeed; state: ChannelState }): ReactNode {
  const draws = useDraws(feed);
  if (!state.joined) return <Loading />;
  if (draws.length === 0) return <Empty>{channel.lottery.none}</Empty>;
  return (
    <ul className="list lottery">
      {draws.map((draw) => (
        <DrawCard key={draw.id} draw={draw} feed={feed} state={state} />
      ))}
    </ul>
  );
}

function DrawCard({ draw, feed, state }: { draw: DrawView; feed: ChannelFeed; state: ChannelState }): ReactNode {
  const me = feed.me;
  const organiser = draw.organiser_id === me;
  const keyword = draw.keyword?.toLowerCase() ?? "";
  const sentKeyword =
    draw.eligibility === "keyword" &&
    state.messages.some((m) => m.user_id === me && !m.failed && m.text.toLowerCase().includes(keyword) && (m.pending || m.at >= draw.opened_at));
  const names = (id: string): string => state.online.get(id) ?? state.messages.find((m) => m.user_id === id)?.name ?? `${id.slice(0, 8)}…`;
  const titleId = `draw-${draw.id}`;
  return (
    <li className="card draw" aria-labelledby={titleId}>
      <div className="grow">
        <h2 id={titleId}>
          {channel.lottery.prize}：{draw.prize}
        </h2>
        <p>
          <span className={`badge ${draw.status === "open" ? "pending" : "verified"}`}>{channel.lottery.status[draw.status] ?? draw.status}</span>{" "}
          {channel.lottery.winners(draw.winner_count)} · {channel.lottery.eligibility[draw.eligibility] ?? draw.eligibility}
          {draw.keyword ? <> · {channel.lottery.keyword(draw.keyword)}</> : null}
        </p>
        {draw.status === "open" ? (
          <>
            <p className="muted">{channel.lottery.drawAt(when(draw.draw_at))}</p>
            {organiser ? (
              <p className="muted">{channel.lottery.organiser}</p>
            ) : draw.eligibility === "keyword" ? (
              sentKeyword ? (
                <p className="notice">{channel.lottery.entered}</p>
              ) : (
                <button type="button" className="primary" onClick={() => void feed.send(draw.keyword ?? "")} disabled={!state.joined}>
                  {channel.lottery.enter}
                </button>
              )
            ) : (
              <p className="notice">{channel.lottery.autoEntered}</p>
            )}
          </>
        ) : (
          <div className="result" role="status">
            {draw.entry_count !== undefined ? <p className="muted">{channel.lottery.entries(draw.entry_count)}</p> : null}
            {organiser ? null : draw.winners?.includes(me) ? <p className="notice won">{channel.lottery.youWon}</p> : <p className="muted">{channel.lottery.youLost}</p>}
            <h3>{channel.lottery.winnersList}</h3>
            <ol>
              {(draw.winners ?? []).map((id) => (
                <li key={id}>{id === me ? channel.me : names(id)}</li>
              ))}
            </ol>
            <Link to={`/lottery/${draw.id}`}>{channel.lottery.verify}</Link>
          </div>
        )}
      </div>
    </li>
  );
}
