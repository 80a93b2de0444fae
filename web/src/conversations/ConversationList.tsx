// A list of conversations with their unread counts and last message, re-read when a message or a
// read position is pushed (and on every reconnection: pushes are at most once).
import { useEffect, type ReactNode } from "react";
import { Link } from "react-router";

import { realtime } from "../api/realtime";
import { conversations as t, resident } from "../strings";
import { Empty, Loading, useLoad } from "../ui/kit";
import { CONVERSATION_MESSAGE, CONVERSATION_READ, conversationsApi, type ConversationSummary } from "./api";
import { ConvError } from "./ConversationView";
import "./conversations.css";

export function ConversationList({
  merchantId,
  pushNamespace = "/",
  linkTo,
  selected,
}: {
  merchantId?: string;
  pushNamespace?: string;
  linkTo: (id: string) => string;
  selected?: string;
}): ReactNode {
  const [page, error, reload] = useLoad(() => conversationsApi.list(merchantId), [merchantId]);
  useEffect(() => {
    const rt = realtime(pushNamespace);
    const stops: Array<() => void> = [];
    let live = true;
    void (async () => {
      stops.push(await rt.on(CONVERSATION_MESSAGE, reload));
      stops.push(await rt.on(CONVERSATION_READ, reload));
      stops.push(await rt.onConnect(reload));
      if (!live) stops.forEach((stop) => stop());
    })();
    return () => {
      live = false;
      stops.forEach((stop) => stop());
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [pushNamespace, merchantId]);
  if (error) return <ConvError error={error} />;
  if (!page) return <Loading />;
  if (page.items.length === 0) return <Empty>{merchantId ? t.merchant.empty : t.empty}</Empty>;
  return (
    <ul className="conv-list">
      {page.items.map((c) => (
        <li key={c.id}>
          <ConversationRow conversation={c} to={linkTo(c.id)} current={c.id === selected} />
        </li>
      ))}
    </ul>
  );
}

function ConversationRow({ conversation: c, to, current }: { conversation: ConversationSummary; to: string; current: boolean }): ReactNode {
  const other = c.my_side === "seller" ? t.withBuyer(c.buyer.name) : t.withSeller(c.seller.name);
  const last = c.last_message;
  const preview = last ? `${last.side === c.my_side ? `${t.you}：` : ""}${last.text || t.image}` : t.noMessages;
  return (
    <Link to={to} className={`conv-row${c.unread > 0 ? " unread" : ""}`} aria-current={current ? "page" : undefined}>
      {c.listing.image_url ? <img src={c.listing.image_url} alt="" className="conv-thumb" /> : <span className="conv-thumb empty" aria-hidden="true" />}
      <span className="conv-row-body">
        <span className="conv-row-head">
          <strong>{other}</strong>
          {last ? <time dateTime={last.at} className="muted conv-small">{resident.time(last.at)}</time> : null}
        </span>
        <span className="muted conv-small">{c.listing.title}</span>
        <span className="conv-preview">{preview}</span>
      </span>
      {c.unread > 0 ? (
        <span className="conv-badge" data-testid="conversation-unread">
          <span aria-hidden="true">{c.unread > 99 ? "99+" : c.unread}</span>
          <span className="conv-sr-only">{t.unread(c.unread)}</span>
        </span>
      ) : null}
    </Link>
  );
}
