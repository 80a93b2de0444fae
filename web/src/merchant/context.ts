// What every back-office screen gets from the shell: the open store, the caller's role in it, and
// the live order feed of the /merchant socket.
import { createContext, useContext } from "react";

import type { ConnectionState } from "../api/realtime";
import type { Merchant, OrderPush } from "./api";

export interface LiveEvent {
  name: string;
  push: OrderPush;
}

export interface MerchantContextValue {
  merchant: Merchant;
  role: "owner" | "staff";
  reload: () => Promise<void>;
  /** Orders announced live that nobody has looked at yet (the 订单 badge). */
  unread: ReadonlySet<string>;
  markRead: (orderId?: string) => void;
  onLive: (listener: (event: LiveEvent) => void) => () => void;
  /** Called after every (re)connection of the socket: pushes meanwhile are lost, re-read REST. */
  onReconnect: (listener: () => void) => () => void;
  connection: ConnectionState;
}

export const MerchantContext = createContext<MerchantContextValue | null>(null);

export function useMerchant(): MerchantContextValue {
  const value = useContext(MerchantContext);
  if (!value) throw new Error("useMerchant outside the merchant shell");
  return value;
}
