// Live orders (issue 17): the server pushes `order:updated` to the buyer's and the seller's
// sockets on `/` after every change of an order (docs/protocol.md, "Pushes to a user"). Pushes
// are at most once, so after a reconnect the screens read their orders again over REST.
import { useEffect, useRef, useState } from "react";

import { realtime } from "../api/realtime";

export interface OrderUpdate {
  order_id: string;
  status: string;
  updated_at: string;
}

const NOTICE_MS = 4_000;

/**
 * Calls `onUpdate` for every `order:updated` pushed to the signed-in user, and `onConnect`
 * each time the socket connects or reconnects after now (pushes may have been missed meanwhile).
 */
export function useOrderUpdates(onUpdate: (update: OrderUpdate) => void, onConnect: () => void): void {
  // The latest handlers without re-subscribing on every render.
  const handlers = useRef({ onUpdate, onConnect });
  handlers.current = { onUpdate, onConnect };
  useEffect(() => {
    const rt = realtime("/");
    const stops: Array<() => void> = [];
    let live = true;
    const keep = (stop: () => void): void => {
      if (live) stops.push(stop);
      else stop();
    };
    rt.on<OrderUpdate>("order:updated", (update) => handlers.current.onUpdate(update))
      .then(keep)
      // Without the socket the page still works over REST (it is only not live).
      .catch(() => undefined);
    // Every connection from now on, the first too: a change between the page's first read and
    // the socket joining the user's room was pushed to nobody. (A socket already connected has
    // been in the room since before that read.)
    rt.on("connect", () => handlers.current.onConnect())
      .then(keep)
      .catch(() => undefined);
    return () => {
      live = false;
      for (const stop of stops) stop();
    };
  }, []);
}

/** A brief "订单状态已更新": [shown, show]. */
export function useBriefNotice(): [boolean, () => void] {
  const [shown, setShown] = useState(false);
  const timer = useRef<number | undefined>(undefined);
  useEffect(() => () => window.clearTimeout(timer.current), []);
  const show = (): void => {
    setShown(true);
    window.clearTimeout(timer.current);
    timer.current = window.setTimeout(() => setShown(false), NOTICE_MS);
  };
  return [shown, show];
}
