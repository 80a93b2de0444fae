// The resident's screens: the conversation list (私信) and one conversation.
import { type ReactNode } from "react";
import { useParams } from "react-router";

import { conversations as t } from "../strings";
import { Page } from "../ui/kit";
import { ConversationList } from "./ConversationList";
import { ConversationView } from "./ConversationView";

export function ConversationsPage(): ReactNode {
  return (
    <Page title={t.listTitle}>
      <ConversationList linkTo={(id) => `/messages/${id}`} />
    </Page>
  );
}

export function ConversationPage(): ReactNode {
  const { id = "" } = useParams();
  return (
    <Page title={t.listTitle}>
      <ConversationView id={id} />
    </Page>
  );
}
