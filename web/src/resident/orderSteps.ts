// The order's steps as the resident sees them (docs/orders.md: one state machine per mode).
import { type Order } from "./types";

const PATHS: Record<Order["mode"], string[]> = {
  sale: ["created", "paid", "handed_over", "completed"],
  consignment: ["created", "paid", "delivered", "completed"],
  rental: ["created", "paid", "picked_up", "returned", "completed"],
};

export interface Step {
  status: string;
  state: "done" | "current" | "todo";
  at: string | null;
}

function timeOf(order: Order, status: string): string | null {
  const at: Record<string, string | null> = {
    created: order.created_at,
    paid: order.paid_at,
    picked_up: order.picked_up_at,
    returned: order.returned_at,
    completed: order.completed_at,
    cancelled: order.cancelled_at,
  };
  return at[status] ?? null;
}

const TERMINAL = new Set(["completed", "cancelled", "refunded"]);

/** The timeline: the mode's happy path, or the detour (cancelled, refund) it took. Steps up to the
 * order's status are done; the next one is what the order waits for now. */
export function stepsOf(order: Order): Step[] {
  let path = PATHS[order.mode];
  if (order.status === "cancelled") path = ["created", "cancelled"];
  if (order.status === "refund_requested") path = ["created", "paid", "refund_requested", "refunded"];
  if (order.status === "refunded") path = ["created", "paid", "refunded"];
  const index = Math.max(path.indexOf(order.status === "confirmed" ? "paid" : order.status), 0);
  const waiting = TERMINAL.has(order.status) ? -1 : index + 1;
  return path.map((status, i) => ({
    status,
    state: i <= index ? "done" : i === waiting ? "current" : "todo",
    at: i <= index ? timeOf(order, status) : null,
  }));
}

export type Side = "buyer" | "seller";

export type Move = "cancel" | "request-refund" | "confirm-receipt" | "hand-over" | "pick-up" | "return" | "complete" | "reject";

/** The moves a side may take now; the API decides again on every one. */
export function movesOf(order: Order, side: Side): Move[] {
  const s = order.status;
  if (side === "buyer") {
    if (s === "created") return ["cancel"];
    if (s === "paid" || s === "confirmed") return ["request-refund"];
    if (s === "handed_over" || s === "delivered") return ["confirm-receipt"];
    return [];
  }
  if (s === "created") return ["cancel"];
  if (s === "paid" || s === "confirmed") return [order.mode === "rental" ? "pick-up" : "hand-over", "reject"];
  if (s === "refund_requested") return ["reject"];
  if (s === "picked_up") return ["return"];
  if (s === "returned") return ["complete"];
  return [];
}
