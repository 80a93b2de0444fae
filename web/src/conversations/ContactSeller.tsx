// 私信卖家 on a listing: opens (or finds) the buyer's conversation about it and goes there.
import { type ReactNode } from "react";
import { useNavigate } from "react-router";

import { conversations as t } from "../strings";
import { useAction } from "../ui/kit";
import { conversationsApi } from "./api";
import { ConvError } from "./ConversationView";

export function ContactSeller({ listingId }: { listingId: string }): ReactNode {
  const navigate = useNavigate();
  const [open, busy, error] = useAction(async () => {
    const conversation = await conversationsApi.open(listingId);
    await navigate(`/messages/${conversation.id}`);
  });
  return (
    <div className="card">
      <button type="button" className="primary wide" disabled={busy} onClick={() => void open()}>
        {t.contactSeller}
      </button>
      <ConvError error={error} />
    </div>
  );
}
