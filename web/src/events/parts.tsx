// What the events screens share: an error as a sentence (the events' own codes first).
import { type ReactNode } from "react";

import { ApiError } from "../api/http";
import { events } from "../strings";
import { ErrorNote } from "../ui/kit";

export function EventError({ error }: { error: unknown }): ReactNode {
  if (error instanceof ApiError && error.code in events.errors) {
    return (
      <p className="error" role="alert">
        {events.errors[error.code]}
      </p>
    );
  }
  return <ErrorNote error={error} />;
}
