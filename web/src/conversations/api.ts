// Conversations over REST and the socket (docs/conversations.md, docs/protocol.md "Conversations").
import { http, query } from "../api/http";
import { realtime } from "../api/realtime";

export const CONVERSATION_MESSAGE = "conversation:message";
export const CONVERSATION_READ = "conversation:read";
// To customer service on /support: a new report or escalation.
export const CONVERSATION_CASE = "conversation:case";

export type Side = "buyer" | "seller";

export interface ConversationSummary {
  id: string;
  listing: { id: string; title: string; image_url: string | null; status: string; kind: string; price_fen: number | null };
  buyer: { id: string; name: string };
  seller: { id: string; name: string; merchant_id: string | null };
  my_side: Side | null;
  last_seq: number;
  read_seq: number;
  other_read_seq: number;
  unread: number;
  last_message: { seq: number; side: Side; text: string; has_image: boolean; at: string } | null;
  created_at: string;
}

export interface Conversation extends ConversationSummary {
  blocked_by_me: boolean;
  blocked_by_other: boolean;
  reported: boolean;
  can_request_call: boolean;
}

export interface Message {
  conversation_id: string;
  seq: number;
  sender_id: string;
  side: Side;
  client_msg_id: string;
  text: string;
  image_url: string | null;
  at: string;
}

export interface MessagePush {
  conversation_id: string;
  message: Message;
}

export interface ReadPush {
  conversation_id: string;
  side: Side;
  seq: number;
}

export interface Sent {
  seq: number;
  duplicate: boolean;
  message: Message;
}

export interface Recovered {
  messages: Message[];
  more: boolean;
  last_seq: number;
  other_read_seq: number;
}

export interface Case {
  id: string;
  conversation_id: string;
  kind: "report" | "escalation";
  side: Side;
  reason: string;
  seq: number | null;
  status: "open" | "resolved" | "dismissed";
  created_at: string;
  listing_title: string;
  buyer_name: string;
  seller_name: string;
  note: string | null;
}

export const conversationsApi = {
  open: (listingId: string) => http.post<Conversation>(`/listings/${listingId}/conversation`),
  list: (merchantId?: string) =>
    http.get<{ items: ConversationSummary[]; next_cursor: string | null; unread: number }>(
      `/conversations${query({ merchant_id: merchantId, limit: 50 })}`,
    ),
  unread: () => http.get<{ unread: number }>("/conversations/unread"),
  get: (id: string) => http.get<Conversation>(`/conversations/${id}`),
  history: (id: string, beforeSeq?: number) =>
    http.get<{ messages: Message[]; next_before_seq: number | null }>(
      `/conversations/${id}/messages${query({ before_seq: beforeSeq, limit: 50 })}`,
    ),
  upload: (id: string, file: File) => http.upload<{ image_key: string; image_url: string }>(`/conversations/${id}/images`, file, file.name),
  block: (id: string) => http.post<Conversation>(`/conversations/${id}/block`),
  unblock: (id: string) => http.post<Conversation>(`/conversations/${id}/unblock`),
  report: (id: string, reason: string) => http.post<Case>(`/conversations/${id}/report`, { reason }),
  escalate: (id: string, reason: string) => http.post<Case>(`/conversations/${id}/escalate`, { reason }),
  call: (id: string) =>
    http.post<{ mode: "number" | "guidance"; number: string | null; expires_at: string | null; guidance: string[] | null }>(
      `/conversations/${id}/call`,
    ),
  // Live: sending, recovering and reading go over the `/` socket (any signed-in account has one).
  send: (id: string, clientMsgId: string, text: string, imageKey?: string) =>
    realtime("/").request<Sent & { ok: true }>("conversation:send", {
      conversation_id: id,
      client_msg_id: clientMsgId,
      text,
      ...(imageKey ? { image_key: imageKey } : {}),
    }),
  recover: (id: string, sinceSeq: number) =>
    realtime("/").request<Recovered & { ok: true }>("conversation:recover", { conversation_id: id, since_seq: sinceSeq }),
  markRead: (id: string, seq: number) =>
    realtime("/").request<{ ok: true; read_seq: number; unread: number }>("conversation:mark_read", { conversation_id: id, seq }),
  // Customer service.
  cases: (status?: string) =>
    http.get<{ items: Case[]; next_cursor: string | null }>(`/support/conversation-cases${query({ status, limit: 100 })}`),
  caseConversation: (id: string) => http.get<ConversationSummary>(`/support/listing-conversations/${id}`),
  closeCase: (caseId: string, status: "resolved" | "dismissed", note?: string) =>
    http.post<Case>(`/support/conversation-cases/${caseId}/close`, { status, ...(note ? { note } : {}) }),
};

export function newClientMsgId(): string {
  return `w-${crypto.randomUUID()}`;
}
