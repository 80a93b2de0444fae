// The week's suggestions on the merchant dashboard (数据看板); small, so the dashboard stays light.
import { type ReactNode } from "react";

import { http } from "../api/http";
import { insights as t } from "../strings";
import { ErrorNote, useLoad } from "../ui/kit";
import type { Suggestions } from "./api";
import { SuggestionList } from "./parts";

/** The week's suggestions on the dashboard (数据看板). */
export function DashboardSuggestions({ merchantId }: { merchantId: string }): ReactNode {
  const [tips, error] = useLoad(() => http.get<Suggestions>(`/merchants/${merchantId}/insights/suggestions`), [merchantId]);
  return (
    <section className="card" aria-labelledby="dash-tips-title">
      <h2 id="dash-tips-title">{t.suggestions.title}</h2>
      <ErrorNote error={error} />
      <SuggestionList data={tips} />
    </section>
  );
}
