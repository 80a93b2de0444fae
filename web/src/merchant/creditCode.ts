// 统一社会信用代码 (GB 32100-2015), checked as the merchant types: the same rule as the backend's
// lago_core/merchants/rules.py (check_credit_code), so the wizard never sends a code the API refuses
// for its shape or check character. The API still checks it; this only spares a round trip.

/** The 31 characters a code may use: digits and capitals without I, O, S, V, Z. */
export const CREDIT_CODE_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY";

// W_i = 3^(i-1) mod 31, as tabulated in the standard.
const WEIGHTS: readonly number[] = Array.from({ length: 17 }, (_, i) => {
  let w = 1;
  for (let k = 0; k < i; k += 1) w = (w * 3) % 31;
  return w;
});

/** The check character for the first 17 characters of a code (which must use the charset). */
export function creditCodeCheckChar(first17: string): string {
  let total = 0;
  for (let i = 0; i < 17; i += 1) {
    const value = CREDIT_CODE_CHARSET.indexOf(first17.charAt(i));
    if (value < 0) throw new Error(`not a credit code character: ${first17.charAt(i)}`);
    total += value * (WEIGHTS[i] ?? 0);
  }
  return CREDIT_CODE_CHARSET.charAt((31 - (total % 31)) % 31);
}

/** The code as the API stores it: no spaces, upper case. */
export function canonicalCreditCode(raw: string): string {
  return raw.replace(/\s+/g, "").toUpperCase();
}

export type CreditCodeProblem = "length" | "tooLong" | "chars" | "region" | "check";

/** What is wrong with the code so far, or null when it is a valid code. */
export function creditCodeProblem(raw: string): CreditCodeProblem | null {
  const code = canonicalCreditCode(raw);
  for (const c of code) if (!CREDIT_CODE_CHARSET.includes(c)) return "chars";
  // Positions 3-8 are the administrative division code (GB/T 2260): digits only.
  if (!/^[0-9]*$/.test(code.slice(2, 8))) return "region";
  if (code.length < 18) return "length";
  if (code.length > 18) return "tooLong";
  return creditCodeCheckChar(code.slice(0, 17)) === code.charAt(17) ? null : "check";
}
