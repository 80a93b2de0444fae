import { type ReactNode } from "react";

import { ApiError } from "../api/http";
import { resident } from "../strings";
import { ErrorNote } from "../ui/kit";

/** An error in Chinese: the resident area's codes first, then the app's general sentences. */
export function ResidentError({ error }: { error: unknown }): ReactNode {
  if (error instanceof ApiError && error.code in resident.errors) {
    return (
      <p className="error" role="alert">
        {resident.errors[error.code]}
      </p>
    );
  }
  return <ErrorNote error={error} />;
}
