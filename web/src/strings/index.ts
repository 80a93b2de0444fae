import { auth } from "./auth";
import { channel } from "./channel";
import { common } from "./common";
import { consoleText } from "./console";
import { coupons } from "./coupons";
import { merchant } from "./merchant";
import { points } from "./points";
import { resident } from "./resident";
import { sponsored } from "./sponsored";
import { swaps } from "./swaps";

export { auth, channel, common, consoleText, coupons, merchant, points, resident };
export { live } from "./live";
export { notifications } from "./notifications";

/** The sentence for an API error code, or the message the API sent, or a general one. */
export function errorText(code: string | undefined, fallback?: string): string {
  if (code && code in common.errors.byCode) return common.errors.byCode[code] as string;
  if (code && code in points.errors) return points.errors[code] as string;
  if (code && code in swaps.errors) return swaps.errors[code] as string;
  if (code && code in sponsored.errors) return sponsored.errors[code] as string;
  return fallback || common.errors.unknown;
}
export { subscriptions } from "./subscriptions";
export { insights } from "./insights";
export { events } from "./events";
export { conversations } from "./conversations";
export { sponsored, swaps };
export { courses } from "./courses";
