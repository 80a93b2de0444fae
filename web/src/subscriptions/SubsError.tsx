import { type ReactNode } from "react";

import { ApiError } from "../api/http";
import { ResidentError } from "../resident/ResidentError";
import { subscriptions } from "../strings";

/** An error in Chinese: the subscription codes first, then the resident area's and the app's. */
export function SubsError({ error }: { error: unknown }): ReactNode {
  if (error instanceof ApiError && error.code in subscriptions.errors) {
    return (
      <p className="error" role="alert">
        {subscriptions.errors[error.code]}
      </p>
    );
  }
  return <ResidentError error={error} />;
}
