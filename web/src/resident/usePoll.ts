import { useEffect } from "react";

/** Calls `tick` every `everyMs` while `active` (a payment or a locker door settling elsewhere). */
export function usePoll(active: boolean, tick: () => void, everyMs = 1000): void {
  useEffect(() => {
    if (!active) return undefined;
    const timer = window.setInterval(tick, everyMs);
    return () => window.clearInterval(timer);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [active, everyMs]);
}
