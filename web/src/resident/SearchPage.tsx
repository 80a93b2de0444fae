import { type ReactNode } from "react";
import { useSearchParams } from "react-router";

import { http, query } from "../api/http";
import { resident } from "../strings";
import { Empty, Loading, Page, useLoad } from "../ui/kit";
import { IntentChips, type Slot } from "./IntentChips";
import { ListingCard } from "./ListingCard";
import { SearchBox } from "./SearchBox";
import { type SearchResult } from "./types";
import { ResidentError } from "./ResidentError";

export function SearchPage(): ReactNode {
  const [params, setParams] = useSearchParams();
  const q = params.get("q") ?? "";
  const without = params.get("without") ?? "";
  const key = `${q}\n${without}`;
  const [loaded, error] = useLoad(
    async () => ({ key, result: q ? await http.get<SearchResult>(`/search${query({ q, without, limit: 30 })}`) : undefined }),
    [key],
  );
  const result = loaded?.result;
  // What is on screen may still be the previous search while the next one loads.
  const current = loaded?.key === key;
  const remove = (slot: Slot): void => {
    const dropped = new Set(without ? without.split(",") : []);
    dropped.add(slot);
    setParams({ q, without: [...dropped].join(",") });
  };
  return (
    <Page title={resident.search.title}>
      <SearchBox key={q} initial={q} />
      <ResidentError error={error} />
      {result ? (
        <>
          <p className="muted small">{resident.search.understood}</p>
          <IntentChips intent={result.intent} onRemove={remove} busy={!current} />
          {result.hint ? <p className="card hint">{result.hint}</p> : null}
        </>
      ) : null}
      {!current && !error && q ? <Loading /> : null}
      {result && !result.nearest ? (
        <p className="muted small" aria-live="polite">
          {resident.search.count(result.items.length)}
        </p>
      ) : null}
      {result?.nearest && result.items.length > 0 ? (
        <p className="card hint" role="status">
          {resident.search.nearest}
        </p>
      ) : null}
      {result && result.items.length === 0 ? <Empty>{resident.search.none}</Empty> : null}
      <div className="grid" aria-label={resident.search.title} role="list">
        {result?.items.map((hit) => (
          <div role="listitem" key={hit.listing.id}>
            <ListingCard
              listing={hit.listing}
              note={[resident.search.where(hit.community_name, hit.distance_m), ...hit.reasons.slice(0, 2)].join(" · ")}
            />
          </div>
        ))}
      </div>
    </Page>
  );
}
