// "Live now" for other channel screens: a link to the watch page while the channel has a stream.
// Give it the screen's own ChannelFeed (it reads the join snapshot and the `live.*` events).
import { type ReactNode } from "react";
import { Link } from "react-router";

import { type ChannelFeed } from "../api/channel";
import { live } from "../strings";
import "./live.css";
import { useLiveSession } from "./useLive";

export function LiveBanner({ feed }: { feed: ChannelFeed | null }): ReactNode {
  const { session } = useLiveSession(feed);
  if (!feed || !session) return null;
  return (
    <Link to={`/live/${feed.communityId}`} className="live-banner">
      <span className="live-badge">{live.watch.playing}</span>
      <span className="live-banner-title">{session.title}</span>
      <span className="live-banner-action">{live.watch.watchNow}</span>
    </Link>
  );
}
