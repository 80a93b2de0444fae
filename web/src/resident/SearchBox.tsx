import { useState, type FormEvent, type ReactNode } from "react";
import { useNavigate } from "react-router";

import { resident } from "../strings";

/** Plain-Chinese search: the words go to /search, which shows how they were understood. */
export function SearchBox({ initial = "" }: { initial?: string }): ReactNode {
  const [text, setText] = useState(initial);
  const navigate = useNavigate();
  const submit = (event: FormEvent): void => {
    event.preventDefault();
    const q = text.trim();
    if (q) void navigate(`/search?q=${encodeURIComponent(q)}`);
  };
  return (
    <form role="search" className="row search-box" onSubmit={submit}>
      <label className="sr-only" htmlFor="resident-search">
        {resident.home.searchLabel}
      </label>
      <input
        id="resident-search"
        type="search"
        maxLength={200}
        value={text}
        placeholder={resident.home.searchPlaceholder}
        onChange={(e) => setText(e.target.value)}
      />
      <button type="submit" className="primary" disabled={!text.trim()}>
        {resident.home.search}
      </button>
    </form>
  );
}
