import { auth } from "./auth";
import { channel } from "./channel";
import { common } from "./common";
import { consoleText } from "./console";
import { merchant } from "./merchant";
import { resident } from "./resident";

export { auth, channel, common, consoleText, merchant, resident };
export { live } from "./live";
export { notifications } from "./notifications";

/** The sentence for an API error code, or the message the API sent, or a general one. */
export function errorText(code: string | undefined, fallback?: string): string {
  if (code && code in common.errors.byCode) return common.errors.byCode[code] as string;
  return fallback || common.errors.unknown;
}
export { subscriptions } from "./subscriptions";
