// Live-stream errors in words: the protocol's live codes (docs/protocol.md) first, then the
// app's common ones.
import { type ReactNode } from "react";

import { ApiError } from "../api/http";
import { errorText, live } from "../strings";
import { ErrorNote } from "../ui/kit";

export function liveErrorText(error: unknown): string | null {
  if (error instanceof ApiError && error.code in live.errors) return live.errors[error.code] as string;
  if (error instanceof DOMException && (error.name === "NotAllowedError" || error.name === "NotFoundError" || error.name === "NotReadableError")) {
    return live.console.cameraDenied;
  }
  return error instanceof ApiError ? null : error ? errorText(undefined) : null;
}

export function LiveError({ error }: { error: unknown }): ReactNode {
  if (!error) return null;
  const text = liveErrorText(error);
  if (text === null) return <ErrorNote error={error} />;
  return (
    <p className="error" role="alert">
      {text}
    </p>
  );
}
