/** "12.5" yuan → 1250 fen, by digits (never through a float); null when it is not an amount. */
export function fenOf(text: string): number | null {
  const match = /^(\d{1,7})(?:\.(\d{1,2}))?$/.exec(text.trim());
  if (!match) return null;
  const [, whole = "0", cents = ""] = match;
  return Number(whole) * 100 + Number(cents.padEnd(2, "0"));
}
