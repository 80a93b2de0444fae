// The parsed intent of a search as chips; removing one searches the same words without it
// (GET /search?without=…, docs/ai.md).
import { type ReactNode } from "react";

import { resident } from "../strings";
import { type Intent } from "./types";

export type Slot = "category" | "brand" | "product" | "keywords" | "duration" | "price" | "condition" | "scope";

export interface Chip {
  slot: Slot | null; // null: the action itself (rent, buy…), which is not removable
  label: string;
}

export function chipsOf(intent: Intent): Chip[] {
  const s = resident.search;
  const chips: Chip[] = [{ slot: null, label: s.intents[intent.intent] ?? intent.intent }];
  if (intent.product) chips.push({ slot: "product", label: intent.product });
  if (intent.brand) chips.push({ slot: "brand", label: intent.brand });
  if (intent.category) chips.push({ slot: "category", label: resident.listing.categories[intent.category] ?? intent.category });
  if (intent.keywords.length) chips.push({ slot: "keywords", label: s.keywords(intent.keywords) });
  if (intent.duration_days) chips.push({ slot: "duration", label: s.days(intent.duration_days) });
  if (intent.price_min_fen !== null || intent.price_max_fen !== null)
    chips.push({ slot: "price", label: s.price(intent.price_min_fen, intent.price_max_fen, intent.price_per_day) });
  if (intent.condition)
    chips.push({ slot: "condition", label: s.conditionAtLeast(resident.listing.conditions[intent.condition] ?? intent.condition) });
  if (intent.scope) chips.push({ slot: "scope", label: s.scopes[intent.scope] ?? intent.scope });
  return chips;
}

export function IntentChips({ intent, onRemove, busy }: { intent: Intent; onRemove: (slot: Slot) => void; busy: boolean }): ReactNode {
  return (
    <ul className="chips" aria-label={resident.search.understood}>
      {chipsOf(intent).map((chip) => (
        <li key={chip.slot ?? "intent"} className="chip">
          <span>{chip.label}</span>
          {chip.slot ? (
            <button
              type="button"
              className="chip-remove"
              aria-label={resident.search.removeChip(chip.label)}
              disabled={busy}
              onClick={() => onRemove(chip.slot as Slot)}
            >
              ×
            </button>
          ) : null}
        </li>
      ))}
    </ul>
  );
}
