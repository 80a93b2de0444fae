// The back office's 买家私信: the merchant's conversations beside the open one. Pushes arrive on
// the shell's /merchant socket; replies go over the / socket like every party's.
import { type ReactNode } from "react";
import { useParams } from "react-router";

import { useMerchant } from "../merchant/context";
import { conversations as t } from "../strings";
import { Page } from "../ui/kit";
import { ConversationList } from "./ConversationList";
import { ConversationView } from "./ConversationView";

export default function MerchantConversationsPage(): ReactNode {
  const { merchant } = useMerchant();
  const { id } = useParams();
  return (
    <Page title={t.merchant.title}>
      <div className="conv-split">
        <nav aria-label={t.merchant.title}>
          <ConversationList
            merchantId={merchant.id}
            pushNamespace="/merchant"
            linkTo={(cid) => `/merchant/conversations/${cid}`}
            selected={id}
          />
        </nav>
        <div>{id ? <ConversationView key={id} id={id} pushNamespace="/merchant" /> : <p className="muted">{t.merchant.pick}</p>}</div>
      </div>
    </Page>
  );
}
